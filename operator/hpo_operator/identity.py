"""Every name the operator is known by in Kubernetes and AWS, defined once.

The resource (ACK's group, version, kind and plural), its finalizer, ACK's annotations, the
operator's own bookkeeping annotations and label, and the system tags on every job it creates.
Every layer reads them from here, so a rename is one edit.
"""

from __future__ import annotations

# The resource, as ACK's sagemaker-controller defines it.
GROUP = "sagemaker.services.k8s.aws"
VERSION = "v1alpha1"
KIND = "HyperParameterTuningJob"
PLURAL = "hyperparametertuningjobs"
SINGULAR = "hyperparametertuningjob"
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = f"finalizers.{GROUP}/{KIND}"  # ACK's, so resources migrate without a new finalizer

# ACK's annotations, on the resource and on its namespace.
ACK_PREFIX = "services.k8s.aws/"
ACK_ANNOTATION_PREFIXES = (ACK_PREFIX, f"{GROUP}/")
ANN_REGION = ACK_PREFIX + "region"
ANN_DEFAULT_REGION = ACK_PREFIX + "default-region"
ANN_ENDPOINT_URL = ACK_PREFIX + "endpoint-url"
ANN_DELETION_POLICY = ACK_PREFIX + "deletion-policy"
ANN_NS_DELETION_POLICY = f"{GROUP}/deletion-policy"
ANN_ADOPTION_POLICY = ACK_PREFIX + "adoption-policy"
ANN_ADOPTION_FIELDS = ACK_PREFIX + "adoption-fields"
ANN_READ_ONLY = ACK_PREFIX + "read-only"
# ACK's cross-account resource management (CARM, core/accounts.py): the namespace annotations, and
# the ConfigMaps in the operator's own namespace that map an account (or team) to an IAM role.
ANN_OWNER_ACCOUNT = ACK_PREFIX + "owner-account-id"
ANN_TEAM_ID = ACK_PREFIX + "team-id"
ROLE_ACCOUNT_MAP = "ack-role-account-map"
ROLE_TEAM_MAP = "ack-role-team-map"
CARM_SERVICE_ALIAS = "sagemaker"  # ACK's service-level CARM keys: `sagemaker.<account or team>`

# This operator's own bookkeeping, under the prefix kopf uses for its progress and diff-base (kopf
# leaves annotations under its marked prefix out of the diff, so writing them triggers nothing).
BOOKKEEPING_PREFIX = f"hpo-operator.{GROUP}"
ANN_JOB_NAME = f"{BOOKKEEPING_PREFIX}/job-name"
ANN_SPEC_HASH = f"{BOOKKEEPING_PREFIX}/spec-hash"
DIFF_BASE_KEY = "last-handled-configuration"  # kopf's diff-base, under the bookkeeping prefix
TOUCH_KEY = "touch-dummy"  # kopf's AnnotationsProgressStorage.touch_key: kopf removes it itself
FINISHED_LABEL = f"{BOOKKEEPING_PREFIX}/finished"  # a parked resource (core/parking.py)

# Leader election (shell/election.py): the coordination.k8s.io Lease's default name.
LEADER_ELECTION_LEASE = "hpo-operator-leader"

# The system tags on every job the operator creates, in the order it sends them: the one list
# that the Create request, `render`, the tag-count check and the CRD's maxItems all count.
SYSTEM_TAG_PREFIX = ACK_PREFIX
TAG_CONTROLLER_VERSION = SYSTEM_TAG_PREFIX + "controller-version"
TAG_NAMESPACE = SYSTEM_TAG_PREFIX + "namespace"
TAG_NAME = SYSTEM_TAG_PREFIX + "name"
TAG_UID = SYSTEM_TAG_PREFIX + "uid"
SYSTEM_TAG_KEYS = (TAG_CONTROLLER_VERSION, TAG_NAMESPACE, TAG_NAME, TAG_UID)

# Tag edits (core/tagedits.py): the digest of the spec without its tags, recorded beside
# ANN_SPEC_HASH, tells an edit of spec.tags alone (applied with AddTags/DeleteTags) from any
# other edit; and the spec digest whose tag edit SageMaker refused for good (not retried).
ANN_UNTAGGED_HASH = f"{BOOKKEEPING_PREFIX}/untagged-spec-hash"
ANN_TAGS_REFUSED = f"{BOOKKEEPING_PREFIX}/tags-refused"
# The resource label ACK's %MANAGED_BY% resource-tag template expands to.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

# ACK's FieldExport (its runtime's CRD, services.k8s.aws/v1alpha1): copies a field of a resource
# into a ConfigMap or Secret key (core/fieldexport.py), with --enable-field-export-reconciler.
FIELD_EXPORT_GROUP = "services.k8s.aws"
FIELD_EXPORT_VERSION = "v1alpha1"
FIELD_EXPORT_KIND = "FieldExport"
FIELD_EXPORT_PLURAL = "fieldexports"
FIELD_EXPORT_CRD_NAME = f"{FIELD_EXPORT_PLURAL}.{FIELD_EXPORT_GROUP}"
