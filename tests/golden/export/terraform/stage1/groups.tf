# groupify stage 1: the groups, their policies and memberships. Apply it first; it only adds
# access routes, so no one loses or gains access. Stage 2 (../stage2) removes the users' direct
# grants, and only after this is applied.
#
# Account:   123456789012
# Plan:      sha256:<masked>
# Made:      <time>
# Generator: groupify 0.1.0.dev0
# Do not edit. For a later change, make a new plan and export it into a new directory,
# applied with its own state: laid over this one after it is applied, a later export
# reads the groups this one made (they exist by then) instead of declaring them, and
# Terraform would destroy them.
#
# Documented exceptions (not touched; IAM.2 still fails for them):
#   breakglass-admin: excluded by tag BreakGlass=true; keeps AdministratorAccess
#     risk: admin: allows * on *; AdministratorAccess (full administrator (Security Hub IAM.1))
#     risk: privilege-escalation: every known method (it allows * on *)
#     risk: data-write: on every resource: everything
#
# Roles that may change or join these groups (not refused):
#   role OrganizationAccountAccessRole: AddUserToGroup, AttachGroupPolicy, CreatePolicyVersion,
#     PutGroupPolicy, SetDefaultPolicyVersion, UpdateGroup on billing-viewers, data-analyst,
#     data-engineer, finance-analyst-without-billing-readonly, platform-automation,
#     platform-developer, platform-sre, security-auditor, support-engineer,
#     support-engineer-support-user, web-developer
#
# Risk review: groups to look at before approving (see each group below):
#   data-analyst: 1 flag(s)
#   data-engineer: 2 flag(s)
#   finance-analyst-without-billing-readonly: 1 flag(s)
#   platform-automation: 1 flag(s)
#   platform-sre: 4 flag(s)
#   support-engineer: 1 flag(s)
#   support-engineer-support-user: 1 flag(s)
#   web-developer: 3 flag(s)

# billing-viewers: an existing group the plan reuses (read, never managed here)
# why: existing group with exactly these policies; 2 users need them
data "aws_iam_group" "billing_viewers" {
  group_name = "billing-viewers"
}

# data-analyst: a new group
# why: 7 users hold exactly these 3 policies
# risk: service-wildcard: athena:*
resource "aws_iam_group" "data_analyst" {
  name = "data-analyst"
}

resource "aws_iam_group_policy_attachment" "data_analyst__athena_query_results_write" {
  group      = aws_iam_group.data_analyst.name
  policy_arn = "arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite"
}

resource "aws_iam_group_policy_attachment" "data_analyst__amazon_athena_full_access" {
  group      = aws_iam_group.data_analyst.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonAthenaFullAccess"
}

resource "aws_iam_group_policy_attachment" "data_analyst__amazon_s3_read_only_access" {
  group      = aws_iam_group.data_analyst.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}

# data-engineer: a new group
# why: 6 users hold exactly these 5 policies
# risk: service-wildcard: athena:*, glue:*
# risk: privilege-escalation: UpdateExistingGlueDevEndpoint
resource "aws_iam_group" "data_engineer" {
  name = "data-engineer"
}

resource "aws_iam_group_policy_attachment" "data_engineer__aws_glue_console_full_access" {
  group      = aws_iam_group.data_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess"
}

resource "aws_iam_group_policy_attachment" "data_engineer__amazon_athena_full_access" {
  group      = aws_iam_group.data_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonAthenaFullAccess"
}

resource "aws_iam_group_policy_attachment" "data_engineer__amazon_s3_read_only_access" {
  group      = aws_iam_group.data_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "data_engineer__cloud_watch_logs_read_only_access" {
  group      = aws_iam_group.data_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess"
}

resource "aws_iam_group_policy" "data_engineer__datalake_rw" {
  name   = "datalake-rw"
  group  = aws_iam_group.data_engineer.name
  policy = <<-EOT
    {
      "Statement": [
        {
          "Action": [
            "s3:ListBucket"
          ],
          "Effect": "Allow",
          "Resource": "arn:aws:s3:::acme-data-lake-123456789012"
        },
        {
          "Action": [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject"
          ],
          "Effect": "Allow",
          "Resource": [
            "arn:aws:s3:::acme-data-lake-123456789012/raw/*",
            "arn:aws:s3:::acme-data-lake-123456789012/curated/*"
          ]
        },
        {
          "Action": [
            "glue:StartJobRun",
            "glue:GetJobRun*",
            "glue:StartCrawler"
          ],
          "Effect": "Allow",
          "Resource": "*"
        }
      ],
      "Version": "2012-10-17"
    }
  EOT
}

# finance-analyst-without-billing-readonly: a new group
# why: 1 user holds exactly this policy
# risk: single-member: a group of one: grouping gave no reuse here
resource "aws_iam_group" "finance_analyst_without_billing_readonly" {
  name = "finance-analyst-without-billing-readonly"
}

resource "aws_iam_group_policy_attachment" "finance_analyst_without_billing_readonly__cost_explorer_read_only" {
  group      = aws_iam_group.finance_analyst_without_billing_readonly.name
  policy_arn = "arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly"
}

# platform-automation: a new group
# why: 1 user holds exactly this policy
# risk: single-member: a group of one: grouping gave no reuse here
resource "aws_iam_group" "platform_automation" {
  name = "platform-automation"
}

resource "aws_iam_group_policy" "platform_automation__ci_deploy" {
  name   = "ci-deploy"
  group  = aws_iam_group.platform_automation.name
  policy = <<-EOT
    {
      "Statement": [
        {
          "Action": [
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage"
          ],
          "Effect": "Allow",
          "Resource": "*",
          "Sid": "PushImages"
        },
        {
          "Action": [
            "ecs:UpdateService",
            "ecs:DescribeServices",
            "ecs:RegisterTaskDefinition"
          ],
          "Effect": "Allow",
          "Resource": "*",
          "Sid": "DeployServices"
        },
        {
          "Action": [
            "s3:GetObject",
            "s3:PutObject"
          ],
          "Effect": "Allow",
          "Resource": "arn:aws:s3:::acme-ci-artifacts-123456789012/*",
          "Sid": "Artifacts"
        },
        {
          "Action": [
            "iam:PassRole"
          ],
          "Effect": "Allow",
          "Resource": "arn:aws:iam::123456789012:role/app-*",
          "Sid": "PassAppRoles"
        }
      ],
      "Version": "2012-10-17"
    }
  EOT
}

# platform-developer: a new group
# why: 7 users hold exactly these 4 policies
resource "aws_iam_group" "platform_developer" {
  name = "platform-developer"
}

resource "aws_iam_group_policy_attachment" "platform_developer__eks_developer_access" {
  group      = aws_iam_group.platform_developer.name
  policy_arn = "arn:aws:iam::123456789012:policy/EKSDeveloperAccess"
}

resource "aws_iam_group_policy_attachment" "platform_developer__amazon_ec2_container_registry_power_user" {
  group      = aws_iam_group.platform_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
}

resource "aws_iam_group_policy_attachment" "platform_developer__amazon_ec2_read_only_access" {
  group      = aws_iam_group.platform_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "platform_developer__amazon_rds_read_only_access" {
  group      = aws_iam_group.platform_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"
}

# platform-sre: a new group
# why: 4 users hold exactly these 3 policies
# risk: admin: PowerUserAccess (every service but IAM and Organizations)
# risk: service-wildcard: support:*
# risk: privilege-escalation: AccessExistingBedrockCodeInterpreterSession,
# CreatePresignedSageMakerNotebookUrl, EC2InstanceConnectSendSSHPublicKey,
# ECSExecuteCommandOnRunningTask, EditExistingLambdaFunctionWithRole,
# ExecuteCloudFormationChangeSet, ModifyEC2InstanceUserDataThenRestart,
# ModifyExistingEC2LaunchTemplate, UpdateAndInvokeLambdaFunction, UpdateExistingGlueDevEndpoint,
# UpdateLambdaFunctionAndAddPermission, UpdateSageMakerNotebookLifecycleConfig
# risk: data-write: on every resource: s3:DeleteObject, s3:PutObject, s3:DeleteBucket,
# dynamodb:DeleteTable, dynamodb:PutItem, rds:DeleteDBInstance, ec2:TerminateInstances,
# kms:ScheduleKeyDeletion
resource "aws_iam_group" "platform_sre" {
  name = "platform-sre"
}

resource "aws_iam_group_policy_attachment" "platform_sre__aws_support_access" {
  group      = aws_iam_group.platform_sre.name
  policy_arn = "arn:aws:iam::aws:policy/AWSSupportAccess"
}

resource "aws_iam_group_policy_attachment" "platform_sre__iam_read_only_access" {
  group      = aws_iam_group.platform_sre.name
  policy_arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "platform_sre__power_user_access" {
  group      = aws_iam_group.platform_sre.name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

# security-auditor: a new group
# why: 3 users hold exactly these 3 policies
resource "aws_iam_group" "security_auditor" {
  name = "security-auditor"
}

resource "aws_iam_group_policy_attachment" "security_auditor__aws_cloud_trail_read_only_access" {
  group      = aws_iam_group.security_auditor.name
  policy_arn = "arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "security_auditor__security_audit" {
  group      = aws_iam_group.security_auditor.name
  policy_arn = "arn:aws:iam::aws:policy/SecurityAudit"
}

resource "aws_iam_group_policy_attachment" "security_auditor__view_only_access" {
  group      = aws_iam_group.security_auditor.name
  policy_arn = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
}

# support-engineer: a new group
# why: 4 users hold these 3 policies (with others from their other groups)
# risk: service-wildcard: support:*
resource "aws_iam_group" "support_engineer" {
  name = "support-engineer"
}

resource "aws_iam_group_policy_attachment" "support_engineer__amazon_ec2_read_only_access" {
  group      = aws_iam_group.support_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "support_engineer__cloud_watch_read_only_access" {
  group      = aws_iam_group.support_engineer.name
  policy_arn = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"
}

resource "aws_iam_group_policy" "support_engineer__case_and_ssm" {
  name   = "case-and-ssm"
  group  = aws_iam_group.support_engineer.name
  policy = <<-EOT
    {
      "Statement": [
        {
          "Action": [
            "support:*"
          ],
          "Effect": "Allow",
          "Resource": "*"
        },
        {
          "Action": [
            "ssm:StartSession",
            "ssm:TerminateSession"
          ],
          "Condition": {
            "StringEquals": {
              "ssm:resourceTag/Environment": "production"
            }
          },
          "Effect": "Allow",
          "Resource": "arn:aws:ec2:us-east-1:123456789012:instance/*"
        }
      ],
      "Version": "2012-10-17"
    }
  EOT
}

# support-engineer-support-user: a new group
# why: 3 users hold this policy (with others from their other groups)
# risk: service-wildcard: support:*
resource "aws_iam_group" "support_engineer_support_user" {
  name = "support-engineer-support-user"
}

resource "aws_iam_group_policy_attachment" "support_engineer_support_user__support_user" {
  group      = aws_iam_group.support_engineer_support_user.name
  policy_arn = "arn:aws:iam::aws:policy/job-function/SupportUser"
}

# web-developer: a new group
# why: 7 users hold exactly these 5 policies
# risk: service-wildcard: application-autoscaling:*, cloudfront:*, dax:*, dynamodb:*, lambda:*
# risk: privilege-escalation: EditExistingLambdaFunctionWithRole,
# PassExistingRoleToNewLambdaThenAddPermission, PassExistingRoleToNewLambdaThenInvoke,
# PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo,
# PassExistingRoleToNewLambdaThenTriggerWithNewDynamo, UpdateAndInvokeLambdaFunction,
# UpdateLambdaFunctionAndAddPermission
# risk: data-write: on every resource: dynamodb:DeleteTable, dynamodb:PutItem
resource "aws_iam_group" "web_developer" {
  name = "web-developer"
}

resource "aws_iam_group_policy_attachment" "web_developer__aws_lambda_full_access" {
  group      = aws_iam_group.web_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AWSLambda_FullAccess"
}

resource "aws_iam_group_policy_attachment" "web_developer__amazon_dynamo_db_full_access" {
  group      = aws_iam_group.web_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
}

resource "aws_iam_group_policy_attachment" "web_developer__amazon_s3_read_only_access" {
  group      = aws_iam_group.web_developer.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}

resource "aws_iam_group_policy_attachment" "web_developer__cloud_front_full_access" {
  group      = aws_iam_group.web_developer.name
  policy_arn = "arn:aws:iam::aws:policy/CloudFrontFullAccess"
}

resource "aws_iam_group_policy_attachment" "web_developer__cloud_watch_logs_read_only_access" {
  group      = aws_iam_group.web_developer.name
  policy_arn = "arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess"
}

# aisha.becker joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "aisha_becker" {
  user = "aisha.becker"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# alex.bauer joins finance-analyst-without-billing-readonly (its other groups stay)
resource "aws_iam_user_group_membership" "alex_bauer" {
  user = "alex.bauer"
  groups = [
    aws_iam_group.finance_analyst_without_billing_readonly.name,
  ]
}

# alex.quinn joins platform-sre (its other groups stay)
resource "aws_iam_user_group_membership" "alex_quinn" {
  user = "alex.quinn"
  groups = [
    aws_iam_group.platform_sre.name,
  ]
}

# alice.gomez joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "alice_gomez" {
  user = "alice.gomez"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# alice.okafor joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "alice_okafor" {
  user = "alice.okafor"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# amir.obrien joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "amir_obrien" {
  user = "amir.obrien"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# ana.khan joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "ana_khan" {
  user = "ana.khan"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# andrea.garcia joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "andrea_garcia" {
  user = "andrea.garcia"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# andrea.okafor joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "andrea_okafor" {
  user = "andrea.okafor"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# bianca.novak joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "bianca_novak" {
  user = "bianca.novak"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# chen.brown joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "chen_brown" {
  user = "chen.brown"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# ci-deployer joins platform-automation (its other groups stay)
resource "aws_iam_user_group_membership" "ci_deployer" {
  user = "ci-deployer"
  groups = [
    aws_iam_group.platform_automation.name,
  ]
}

# daniel.moreau joins platform-sre (its other groups stay)
resource "aws_iam_user_group_membership" "daniel_moreau" {
  user = "daniel.moreau"
  groups = [
    aws_iam_group.platform_sre.name,
  ]
}

# david.alvarez joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "david_alvarez" {
  user = "david.alvarez"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# fatima.larsen joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "fatima_larsen" {
  user = "fatima.larsen"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# fatima.petrov joins support-engineer, support-engineer-support-user (its other groups stay)
resource "aws_iam_user_group_membership" "fatima_petrov" {
  user = "fatima.petrov"
  groups = [
    aws_iam_group.support_engineer.name,
    aws_iam_group.support_engineer_support_user.name,
  ]
}

# felix.nguyen joins support-engineer, support-engineer-support-user (its other groups stay)
resource "aws_iam_user_group_membership" "felix_nguyen" {
  user = "felix.nguyen"
  groups = [
    aws_iam_group.support_engineer.name,
    aws_iam_group.support_engineer_support_user.name,
  ]
}

# felix.obrien joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "felix_obrien" {
  user = "felix.obrien"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# gabriel.cohen joins billing-viewers (its other groups stay)
resource "aws_iam_user_group_membership" "gabriel_cohen" {
  user = "gabriel.cohen"
  groups = [
    data.aws_iam_group.billing_viewers.group_name,
  ]
}

# gabriel.martin joins security-auditor (its other groups stay)
resource "aws_iam_user_group_membership" "gabriel_martin" {
  user = "gabriel.martin"
  groups = [
    aws_iam_group.security_auditor.name,
  ]
}

# hugo.brown joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "hugo_brown" {
  user = "hugo.brown"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# hugo.hoffman joins security-auditor (its other groups stay)
resource "aws_iam_user_group_membership" "hugo_hoffman" {
  user = "hugo.hoffman"
  groups = [
    aws_iam_group.security_auditor.name,
  ]
}

# ivan.andersen joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "ivan_andersen" {
  user = "ivan.andersen"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# ivan.santos joins billing-viewers (its other groups stay)
resource "aws_iam_user_group_membership" "ivan_santos" {
  user = "ivan.santos"
  groups = [
    data.aws_iam_group.billing_viewers.group_name,
  ]
}

# james.andersen joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "james_andersen" {
  user = "james.andersen"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# james.larsen joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "james_larsen" {
  user = "james.larsen"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# james.weber joins platform-sre (its other groups stay)
resource "aws_iam_user_group_membership" "james_weber" {
  user = "james.weber"
  groups = [
    aws_iam_group.platform_sre.name,
  ]
}

# karim.jensen joins support-engineer, support-engineer-support-user (its other groups stay)
resource "aws_iam_user_group_membership" "karim_jensen" {
  user = "karim.jensen"
  groups = [
    aws_iam_group.support_engineer.name,
    aws_iam_group.support_engineer_support_user.name,
  ]
}

# laura.fischer joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "laura_fischer" {
  user = "laura.fischer"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# maya.chen joins data-analyst (its other groups stay)
resource "aws_iam_user_group_membership" "maya_chen" {
  user = "maya.chen"
  groups = [
    aws_iam_group.data_analyst.name,
  ]
}

# maya.smith joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "maya_smith" {
  user = "maya.smith"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# mei.patel joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "mei_patel" {
  user = "mei.patel"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# mohammed.andersen joins platform-developer (its other groups stay)
resource "aws_iam_user_group_membership" "mohammed_andersen" {
  user = "mohammed.andersen"
  groups = [
    aws_iam_group.platform_developer.name,
  ]
}

# mohammed.andersen2 joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "mohammed_andersen2" {
  user = "mohammed.andersen2"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# mohammed.martin joins security-auditor (its other groups stay)
resource "aws_iam_user_group_membership" "mohammed_martin" {
  user = "mohammed.martin"
  groups = [
    aws_iam_group.security_auditor.name,
  ]
}

# mohammed.okafor joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "mohammed_okafor" {
  user = "mohammed.okafor"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# olivia.evans joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "olivia_evans" {
  user = "olivia.evans"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}

# olivia.rossi joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "olivia_rossi" {
  user = "olivia.rossi"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# priya.novak joins platform-sre (its other groups stay)
resource "aws_iam_user_group_membership" "priya_novak" {
  user = "priya.novak"
  groups = [
    aws_iam_group.platform_sre.name,
  ]
}

# sara.lopez joins support-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "sara_lopez" {
  user = "sara.lopez"
  groups = [
    aws_iam_group.support_engineer.name,
  ]
}

# wei.okafor joins data-engineer (its other groups stay)
resource "aws_iam_user_group_membership" "wei_okafor" {
  user = "wei.okafor"
  groups = [
    aws_iam_group.data_engineer.name,
  ]
}

# wei.silva joins web-developer (its other groups stay)
resource "aws_iam_user_group_membership" "wei_silva" {
  user = "wei.silva"
  groups = [
    aws_iam_group.web_developer.name,
  ]
}
