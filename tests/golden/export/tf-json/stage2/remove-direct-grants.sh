#!/usr/bin/env bash
# groupify stage 2 for AWS account 123456789012, plan sha256:<masked>:
# remove the direct grants of 42 user(s) (Security Hub IAM.2).
#
# Run this ONLY after stage 1 (groups, policies, memberships) is applied. It checks
# that first: every group holds what replaces the grants, and, before a user's first
# removal, that the user is in those groups. A failed check or call stops the script
# before the next removal. Grants already gone are reported and skipped, so it can
# run again. DRY_RUN=1 makes the checks and prints the removals without making them.
#
# Grants that your own Terraform or CloudFormation code manages: remove them there
# (README.md beside this script lists them per user), not here.
#
# Needs the AWS CLI, with credentials for the account allowed sts:GetCallerIdentity,
# iam:ListGroupsForUser, iam:ListAttachedGroupPolicies, iam:ListGroupPolicies,
# iam:DetachUserPolicy and iam:DeleteUserPolicy.
set -euo pipefail
set -o noglob # IAM names and ARNs are split into words below, never expanded

fail() {
  echo "stage 2 stopped: $*" >&2
  exit 1
}

has() { # WORD LIST...: whether WORD is one of LIST
  local want=$1 word
  shift
  for word in "$@"; do
    [[ $word == "$want" ]] && return 0
  done
  return 1
}

# The read calls print names separated by tabs and line breaks; IAM names hold neither.
# Names go as --flag=NAME: IAM allows a name that starts with "-".
# shellcheck disable=SC2086
require_member() { # USER GROUP
  local out
  out=$(aws iam list-groups-for-user --user-name="$1" --query 'Groups[].GroupName' \
    --output text) || fail "cannot read the groups of user $1: does it exist?"
  has "$2" $out || fail "user $1 is not in group $2: apply stage 1 first"
}

# shellcheck disable=SC2086
require_attached() { # GROUP POLICY_ARN
  local out
  out=$(aws iam list-attached-group-policies --group-name="$1" \
    --query 'AttachedPolicies[].PolicyArn' --output text) ||
    fail "cannot read the managed policies of group $1: is stage 1 applied?"
  has "$2" $out || fail "group $1 does not have $2 attached: apply stage 1 first"
}

# shellcheck disable=SC2086
require_inline() { # GROUP POLICY_NAME
  local out
  out=$(aws iam list-group-policies --group-name="$1" --query 'PolicyNames' \
    --output text) || fail "cannot read the inline policies of group $1: is stage 1 applied?"
  has "$2" $out || fail "group $1 has no inline policy $2: apply stage 1 first"
}

remove() { # the AWS CLI call that removes one direct grant
  local err
  if [[ -n ${DRY_RUN:-} ]]; then
    echo "would run: $*"
  elif err=$("$@" 2>&1 >/dev/null); then
    echo "done: $*"
  elif [[ $err == *NoSuchEntity* ]]; then
    echo "already gone: $*"
  else
    printf '%s\n' "$err" >&2
    fail "$*"
  fi
}

ACCOUNT_ID=123456789012
account=$(aws sts get-caller-identity --query Account --output text) ||
  fail "cannot tell which account these credentials are for"
[[ $account == "$ACCOUNT_ID" ]] || fail "these credentials are for account $account, not $ACCOUNT_ID"

# -- stage 1 is in place: the groups hold what replaces the direct grants --
require_attached Developers arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess
require_attached billing-viewers arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly
require_attached billing-viewers arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess
require_attached data-analyst arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite
require_attached data-analyst arn:aws:iam::aws:policy/AmazonAthenaFullAccess
require_attached data-analyst arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
require_attached data-engineer arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess
require_attached data-engineer arn:aws:iam::aws:policy/AmazonAthenaFullAccess
require_attached data-engineer arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
require_attached data-engineer arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess
require_inline data-engineer datalake-rw
require_attached finance-analyst-without-billing-readonly arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly
require_inline platform-automation ci-deploy
require_attached platform-developer arn:aws:iam::123456789012:policy/EKSDeveloperAccess
require_attached platform-developer arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser
require_attached platform-developer arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess
require_attached platform-developer arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess
require_attached platform-sre arn:aws:iam::aws:policy/AWSSupportAccess
require_attached platform-sre arn:aws:iam::aws:policy/IAMReadOnlyAccess
require_attached platform-sre arn:aws:iam::aws:policy/PowerUserAccess
require_attached security-auditor arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess
require_attached security-auditor arn:aws:iam::aws:policy/SecurityAudit
require_attached security-auditor arn:aws:iam::aws:policy/job-function/ViewOnlyAccess
require_attached support-engineer arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess
require_attached support-engineer arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess
require_inline support-engineer case-and-ssm
require_attached support-engineer-support-user arn:aws:iam::aws:policy/job-function/SupportUser
require_attached web-developer arn:aws:iam::aws:policy/AWSLambda_FullAccess
require_attached web-developer arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess
require_attached web-developer arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
require_attached web-developer arn:aws:iam::aws:policy/CloudFrontFullAccess
require_attached web-developer arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess

# -- per user, in plan order: its groups, then its direct grants go --

# aisha.becker: replaced by group(s) platform-developer
require_member aisha.becker platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name aisha.becker  # s85
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name aisha.becker  # s86
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name aisha.becker  # s87
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name aisha.becker  # s88

# alex.bauer: replaced by group(s) finance-analyst-without-billing-readonly
require_member alex.bauer finance-analyst-without-billing-readonly
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly --user-name alex.bauer  # s89

# alex.quinn: replaced by group(s) platform-sre
require_member alex.quinn platform-sre
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess --user-name alex.quinn  # s90
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess --user-name alex.quinn  # s91
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/PowerUserAccess --user-name alex.quinn  # s92

# alice.gomez: replaced by group(s) platform-developer
require_member alice.gomez platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name alice.gomez  # s93
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name alice.gomez  # s94
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name alice.gomez  # s95
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name alice.gomez  # s96

# alice.okafor: replaced by group(s) web-developer
require_member alice.okafor web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name alice.okafor  # s97
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name alice.okafor  # s98
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name alice.okafor  # s99
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name alice.okafor  # s100
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name alice.okafor  # s101

# amir.obrien: replaced by group(s) platform-developer
require_member amir.obrien platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name amir.obrien  # s102
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name amir.obrien  # s103
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name amir.obrien  # s104
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name amir.obrien  # s105

# ana.khan: replaced by group(s) platform-developer
require_member ana.khan platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name ana.khan  # s106
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name ana.khan  # s107
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name ana.khan  # s108
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name ana.khan  # s109

# andrea.garcia: replaced by group(s) data-engineer
require_member andrea.garcia data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name andrea.garcia  # s110
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name andrea.garcia  # s111
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name andrea.garcia  # s112
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name andrea.garcia  # s113
remove aws iam delete-user-policy --policy-name glue-etl --user-name andrea.garcia  # s114

# andrea.okafor: replaced by group(s) data-analyst
require_member andrea.okafor data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name andrea.okafor  # s115
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name andrea.okafor  # s116
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name andrea.okafor  # s117

# bianca.novak: replaced by group(s) data-analyst
require_member bianca.novak data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name bianca.novak  # s118
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name bianca.novak  # s119
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name bianca.novak  # s120

# chen.brown: replaced by group(s) web-developer
require_member chen.brown web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name chen.brown  # s121
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name chen.brown  # s122
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name chen.brown  # s123
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name chen.brown  # s124
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name chen.brown  # s125

# ci-deployer: replaced by group(s) platform-automation
require_member ci-deployer platform-automation
remove aws iam delete-user-policy --policy-name ci-deploy --user-name ci-deployer  # s126

# daniel.moreau: replaced by group(s) platform-sre
require_member daniel.moreau platform-sre
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess --user-name daniel.moreau  # s127
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess --user-name daniel.moreau  # s128
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/PowerUserAccess --user-name daniel.moreau  # s129

# david.alvarez: replaced by group(s) data-analyst
require_member david.alvarez data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name david.alvarez  # s130
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name david.alvarez  # s131
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name david.alvarez  # s132

# fatima.larsen: replaced by group(s) data-analyst
require_member fatima.larsen data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name fatima.larsen  # s133
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name fatima.larsen  # s134
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name fatima.larsen  # s135

# fatima.petrov: replaced by group(s) support-engineer, support-engineer-support-user
require_member fatima.petrov support-engineer
require_member fatima.petrov support-engineer-support-user
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name fatima.petrov  # s136
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess --user-name fatima.petrov  # s137
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/SupportUser --user-name fatima.petrov  # s138
remove aws iam delete-user-policy --policy-name case-and-ssm --user-name fatima.petrov  # s139

# felix.nguyen: replaced by group(s) support-engineer, support-engineer-support-user
require_member felix.nguyen support-engineer
require_member felix.nguyen support-engineer-support-user
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name felix.nguyen  # s140
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess --user-name felix.nguyen  # s141
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/SupportUser --user-name felix.nguyen  # s142
remove aws iam delete-user-policy --policy-name case-and-ssm --user-name felix.nguyen  # s143

# felix.obrien: replaced by group(s) data-analyst
require_member felix.obrien data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name felix.obrien  # s144
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name felix.obrien  # s145
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name felix.obrien  # s146

# gabriel.cohen: replaced by group(s) billing-viewers
require_member gabriel.cohen billing-viewers
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly --user-name gabriel.cohen  # s147
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess --user-name gabriel.cohen  # s148

# gabriel.martin: replaced by group(s) security-auditor
require_member gabriel.martin security-auditor
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess --user-name gabriel.martin  # s149
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/SecurityAudit --user-name gabriel.martin  # s150
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/ViewOnlyAccess --user-name gabriel.martin  # s151

# hugo.brown: replaced by group(s) web-developer
require_member hugo.brown web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name hugo.brown  # s152
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name hugo.brown  # s153
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name hugo.brown  # s154
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name hugo.brown  # s155
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name hugo.brown  # s156

# hugo.hoffman: replaced by group(s) security-auditor
require_member hugo.hoffman security-auditor
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess --user-name hugo.hoffman  # s157
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/SecurityAudit --user-name hugo.hoffman  # s158
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/ViewOnlyAccess --user-name hugo.hoffman  # s159

# ivan.andersen: replaced by group(s) data-analyst
require_member ivan.andersen data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name ivan.andersen  # s160
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name ivan.andersen  # s161
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name ivan.andersen  # s162

# ivan.santos: replaced by group(s) billing-viewers
require_member ivan.santos billing-viewers
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/finance/CostExplorerReadOnly --user-name ivan.santos  # s163
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess --user-name ivan.santos  # s164

# james.andersen: replaced by group(s) data-engineer
require_member james.andersen data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name james.andersen  # s165
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name james.andersen  # s166
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name james.andersen  # s167
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name james.andersen  # s168
remove aws iam delete-user-policy --policy-name datalake-rw --user-name james.andersen  # s169

# james.larsen: replaced by group(s) platform-developer
require_member james.larsen platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name james.larsen  # s170
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name james.larsen  # s171
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name james.larsen  # s172
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name james.larsen  # s173

# james.weber: replaced by group(s) platform-sre
require_member james.weber platform-sre
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess --user-name james.weber  # s174
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess --user-name james.weber  # s175
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/PowerUserAccess --user-name james.weber  # s176

# karim.jensen: replaced by group(s) support-engineer, support-engineer-support-user
require_member karim.jensen support-engineer
require_member karim.jensen support-engineer-support-user
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name karim.jensen  # s177
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess --user-name karim.jensen  # s178
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/SupportUser --user-name karim.jensen  # s179
remove aws iam delete-user-policy --policy-name support-tools --user-name karim.jensen  # s180

# laura.fischer: replaced by group(s) platform-developer
require_member laura.fischer platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name laura.fischer  # s181
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name laura.fischer  # s182
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name laura.fischer  # s183
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name laura.fischer  # s184

# maya.chen: replaced by group(s) data-analyst
require_member maya.chen data-analyst
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/data/AthenaQueryResultsWrite --user-name maya.chen  # s185
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name maya.chen  # s186
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name maya.chen  # s187

# maya.smith: replaced by group(s) web-developer
require_member maya.smith web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name maya.smith  # s188
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name maya.smith  # s189
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name maya.smith  # s190
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name maya.smith  # s191
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name maya.smith  # s192

# mei.patel: replaced by group(s) data-engineer
require_member mei.patel data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name mei.patel  # s193
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name mei.patel  # s194
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name mei.patel  # s195
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name mei.patel  # s196
remove aws iam delete-user-policy --policy-name datalake-rw --user-name mei.patel  # s197

# mohammed.andersen: replaced by group(s) Developers, platform-developer
require_member mohammed.andersen Developers
require_member mohammed.andersen platform-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::123456789012:policy/EKSDeveloperAccess --user-name mohammed.andersen  # s198
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser --user-name mohammed.andersen  # s199
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name mohammed.andersen  # s200
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess --user-name mohammed.andersen  # s201
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess --user-name mohammed.andersen  # s202

# mohammed.andersen2: replaced by group(s) data-engineer
require_member mohammed.andersen2 data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name mohammed.andersen2  # s203
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name mohammed.andersen2  # s204
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name mohammed.andersen2  # s205
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name mohammed.andersen2  # s206
remove aws iam delete-user-policy --policy-name DataLakeWrite --user-name mohammed.andersen2  # s207

# mohammed.martin: replaced by group(s) security-auditor
require_member mohammed.martin security-auditor
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess --user-name mohammed.martin  # s208
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/SecurityAudit --user-name mohammed.martin  # s209
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/job-function/ViewOnlyAccess --user-name mohammed.martin  # s210

# mohammed.okafor: replaced by group(s) web-developer
require_member mohammed.okafor web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name mohammed.okafor  # s211
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name mohammed.okafor  # s212
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name mohammed.okafor  # s213
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name mohammed.okafor  # s214
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name mohammed.okafor  # s215

# olivia.evans: replaced by group(s) web-developer
require_member olivia.evans web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name olivia.evans  # s216
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name olivia.evans  # s217
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name olivia.evans  # s218
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name olivia.evans  # s219
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name olivia.evans  # s220

# olivia.rossi: replaced by group(s) data-engineer
require_member olivia.rossi data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name olivia.rossi  # s221
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name olivia.rossi  # s222
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name olivia.rossi  # s223
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name olivia.rossi  # s224
remove aws iam delete-user-policy --policy-name data-lake-write --user-name olivia.rossi  # s225

# priya.novak: replaced by group(s) platform-sre
require_member priya.novak platform-sre
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess --user-name priya.novak  # s226
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/IAMReadOnlyAccess --user-name priya.novak  # s227
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/PowerUserAccess --user-name priya.novak  # s228

# sara.lopez: replaced by group(s) support-engineer
require_member sara.lopez support-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess --user-name sara.lopez  # s229
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess --user-name sara.lopez  # s230
remove aws iam delete-user-policy --policy-name SupportTools --user-name sara.lopez  # s231

# wei.okafor: replaced by group(s) data-engineer
require_member wei.okafor data-engineer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess --user-name wei.okafor  # s232
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonAthenaFullAccess --user-name wei.okafor  # s233
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name wei.okafor  # s234
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name wei.okafor  # s235
remove aws iam delete-user-policy --policy-name s3-datalake-access --user-name wei.okafor  # s236

# wei.silva: replaced by group(s) web-developer
require_member wei.silva web-developer
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AWSLambda_FullAccess --user-name wei.silva  # s237
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess --user-name wei.silva  # s238
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --user-name wei.silva  # s239
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudFrontFullAccess --user-name wei.silva  # s240
remove aws iam detach-user-policy --policy-arn arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess --user-name wei.silva  # s241

echo "stage 2 done: run groupify verify on the plan to confirm IAM.2"
