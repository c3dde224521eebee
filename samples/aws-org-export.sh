#!/usr/bin/env bash
# Write an AWS Organization as iam-gov's organization_folder reads it, with the AWS CLI only.
# Run it with a credential of the management account (or a delegated administrator):
#   samples/aws-org-export.sh OUT_FOLDER [MEMBER_ROLE_NAME] [EXTERNAL_ID]
# Each member account is read through MEMBER_ROLE_NAME (default iam-gov-read); the
# credential's own account with the credential itself. An account that cannot be read gets
# no folder: iam-gov then says it is uncollected.
set -euo pipefail
out=${1:?usage: $0 OUT_FOLDER [MEMBER_ROLE_NAME] [EXTERNAL_ID]}
role=${2:-iam-gov-read}
external_id=${3:-}
org="$out/organizations"
mkdir -p "$org/children" "$org/policies" "$org/targets" "$out/accounts"

aws organizations describe-organization >"$org/describe-organization.json"
aws organizations list-roots >"$org/list-roots.json"
aws organizations list-accounts >"$org/list-accounts.json"
aws organizations list-policies --filter SERVICE_CONTROL_POLICY >"$org/list-policies-scp.json"

# The OU tree: the root and every OU, each with its OUs and its accounts.
parents=$(aws organizations list-roots --query 'Roots[].Id' --output text)
while [ -n "$parents" ]; do
    next=""
    for parent in $parents; do
        units=$(aws organizations list-organizational-units-for-parent --parent-id "$parent")
        accounts=$(aws organizations list-accounts-for-parent --parent-id "$parent")
        python3 -c 'import json,sys; u=json.loads(sys.argv[1]); a=json.loads(sys.argv[2]);
print(json.dumps({"OrganizationalUnits": u["OrganizationalUnits"], "Accounts": a["Accounts"]}, indent=4))' \
            "$units" "$accounts" >"$org/children/$parent.json"
        next="$next $(aws organizations list-organizational-units-for-parent --parent-id "$parent" \
            --query 'OrganizationalUnits[].Id' --output text)"
    done
    parents=$(echo "$next" | xargs)
done

for policy in $(aws organizations list-policies --filter SERVICE_CONTROL_POLICY \
    --query 'Policies[].Id' --output text); do
    aws organizations describe-policy --policy-id "$policy" >"$org/policies/$policy.json"
    aws organizations list-targets-for-policy --policy-id "$policy" >"$org/targets/$policy.json"
done

# One account's IAM, with whatever credential the environment holds; authorization-details.json
# is moved in place last, so a failed read leaves the account uncollected, not half-read.
read_account() {
    local folder=$1
    mkdir -p "$folder"
    aws iam get-account-authorization-details >"$folder/authorization-details.json.tmp"
    until aws iam generate-credential-report --query State --output text | grep -q COMPLETE; do
        sleep 2
    done
    aws iam get-credential-report >"$folder/credential-report.json"
    aws iam get-account-password-policy >"$folder/password-policy.json" 2>/dev/null \
        || echo null >"$folder/password-policy.json"
    mv "$folder/authorization-details.json.tmp" "$folder/authorization-details.json"
}

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

own=$(aws sts get-caller-identity --query Account --output text)
for account in $(aws organizations list-accounts --query 'Accounts[].Id' --output text); do
    folder="$out/accounts/$account"
    if [ "$account" = "$own" ]; then
        read_account "$folder" || echo "account $account: reading IAM failed; left out" >&2
        continue
    fi
    args=(--role-arn "arn:aws:iam::$account:role/$role" --role-session-name iam-gov)
    [ -n "$external_id" ] && args+=(--external-id "$external_id")
    if ! keys=$(aws sts assume-role "${args[@]}" --query Credentials --output json); then
        echo "account $account: cannot assume $role; left out (uncollected)" >&2
        continue
    fi
    # The role's keys for this account's calls only (bash exports them to the function).
    AWS_ACCESS_KEY_ID=$(field AccessKeyId <<<"$keys") \
        AWS_SECRET_ACCESS_KEY=$(field SecretAccessKey <<<"$keys") \
        AWS_SESSION_TOKEN=$(field SessionToken <<<"$keys") \
        read_account "$folder" \
        || echo "account $account: reading IAM failed; left out (uncollected)" >&2
done
