module github.com/hpo-operator/hpo-operator/hack/node/pause

go 1.26.0
