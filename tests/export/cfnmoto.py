"""The two CloudFormation resource types stage 1 uses that moto's CloudFormation lacks.

moto 5 deploys ``AWS::IAM::ManagedPolicy`` (and users, roles, inline policies), but
not ``AWS::IAM::Group`` nor ``AWS::IAM::UserToGroupAddition``: it warns and creates
nothing, so a stack would reach ``CREATE_COMPLETE`` empty. These models make the
two types on moto's own IAM backend, following the CloudFormation resource
reference (Group: ``GroupName``, ``Path``, ``ManagedPolicyArns``, ``Policies``; its
``Ref`` is the name and ``Fn::GetAtt Arn`` the ARN. UserToGroupAddition:
``GroupName``, ``Users``; deleting it removes only those users). Everything else in
the deploy is moto's: the change set, ``Ref`` resolution, the managed policies.

This is test scaffolding, not a CloudFormation emulator: what it shows is that
the template deploys through a real CloudFormation API (moto's) into IAM with
the effect the resource reference documents. It does not show what the real
service would do with it; cfn-lint checks the template against the real
resource specification.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.iam.models import iam_backends


def _backend(account_id: str) -> Any:
    return iam_backends[account_id]["aws"]


class Group(CloudFormationModel):
    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IAM::Group"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        raise KeyError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Group:
        props = cloudformation_json.get("Properties", {})
        iam = _backend(account_id)
        group = iam.create_group(props.get("GroupName", resource_name), props.get("Path", "/"))
        for arn in props.get("ManagedPolicyArns", []):
            iam.attach_group_policy(arn, group.name)
        for policy in props.get("Policies", []):
            iam.put_group_policy(
                group.name, policy["PolicyName"], json.dumps(policy["PolicyDocument"])
            )
        return cls(group.name, group.arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Group:
        raise NotImplementedError("stage 1 is deployed once; an update is not exercised")

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        iam = _backend(account_id)
        props = cloudformation_json.get("Properties", {})
        name = props.get("GroupName", resource_name)
        for arn in list(iam.get_group(name).managed_policies):
            iam.detach_group_policy(arn, name)
        for policy in props.get("Policies", []):
            iam.delete_group_policy(name, policy["PolicyName"])
        iam.delete_group(name)


class UserToGroupAddition(CloudFormationModel):
    def __init__(self, ident: str) -> None:
        self.ident = ident

    @property
    def physical_resource_id(self) -> str:
        return self.ident

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IAM::UserToGroupAddition"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> UserToGroupAddition:
        props = cloudformation_json["Properties"]
        iam = _backend(account_id)
        for user in props["Users"]:
            iam.add_user_to_group(props["GroupName"], user)
        return cls(f"{props['GroupName']}-{resource_name}")

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> UserToGroupAddition:
        raise NotImplementedError("stage 1 is deployed once; an update is not exercised")

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        props = cloudformation_json["Properties"]
        iam = _backend(account_id)
        for user in props["Users"]:
            iam.remove_user_from_group(props["GroupName"], user)


def register() -> None:
    """Make moto's CloudFormation see the two models (its type map is cached)."""
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    assert {"AWS::IAM::Group", "AWS::IAM::UserToGroupAddition"} <= set(parsing.get_model_map())
