"""hpo-operator's local test ground, never shipped: `cluster` (etcd + kube-apiserver), `node` (a
node that runs pods beside it), `dns` (its Services-only cluster DNS), `process` (their server
processes). Run as `python -m hpo_devtools.cluster up|down` (`make cluster-up`) and
`python -m hpo_devtools.node up|down` (`make node-up`)."""
