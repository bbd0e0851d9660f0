"""ACK's naming rule and the one table that every model walk spells fields through."""

from __future__ import annotations

import pytest

from hpo_operator.model import awsmodel
from hpo_operator.model.naming import aws_name, field_name, field_path, fields_of, member_for_field


@pytest.mark.parametrize(
    ("member", "field"),
    [
        ("RoleArn", "roleARN"),
        ("S3Uri", "s3URI"),
        ("KmsKeyId", "kmsKeyID"),
        ("VolumeKmsKeyId", "volumeKMSKeyID"),
        ("SecurityGroupIds", "securityGroupIDs"),
        ("Type", "type_"),
        ("VpcConfig", "vpcConfig"),
        ("VolumeSizeInGB", "volumeSizeInGB"),
        ("TrainingJobArn", "trainingJobARN"),
        ("HubContentArn", "hubContentARN"),
        ("FileSystemId", "fileSystemID"),
        ("MaxNumberOfTrainingJobs", "maxNumberOfTrainingJobs"),
    ],
)
def test_field_name(member: str, field: str) -> None:
    assert field_name(member) == field


def test_fields_of_is_the_table_between_spellings() -> None:
    definition = awsmodel.shape("HyperParameterTrainingJobDefinition")
    table = fields_of(definition)
    assert table["roleARN"] == "RoleArn"
    assert table["staticHyperParameters"] == "StaticHyperParameters"
    assert fields_of(definition, aws_name)["RoleArn"] == "RoleArn"
    assert member_for_field(definition.members, "roleARN") == "RoleArn"
    assert fields_of(awsmodel.shape("S3Uri")) == {}  # not a structure


def test_field_path_respells_members_and_keeps_indexes_and_map_keys() -> None:
    root = awsmodel.input_shape(awsmodel.CREATE)
    assert field_path(root, ("TrainingJobDefinition", "RoleArn")) == (
        "trainingJobDefinition",
        "roleARN",
    )
    assert field_path(
        root, ("TrainingJobDefinition", "InputDataConfig", 0, "DataSource", "S3DataSource", "S3Uri")
    ) == ("trainingJobDefinition", "inputDataConfig", 0, "dataSource", "s3DataSource", "s3URI")
    assert field_path(root, ("TrainingJobDefinition", "StaticHyperParameters", "Eta_Max")) == (
        "trainingJobDefinition",
        "staticHyperParameters",
        "Eta_Max",
    )
    assert field_path(root, ("NoSuchMember", "Deeper")) == ("NoSuchMember", "Deeper")
