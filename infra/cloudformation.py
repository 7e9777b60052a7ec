"""`python -m infra.cloudformation <stage>`: the merge template `chalice package` folds into its SAM output.

Tables, indexes, streams and TTL come from the same PynamoDB models the code uses;
everything else the functions need is declared here, next to the event-source and
environment settings that wire the functions Chalice generates to it.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.services import notifier
from chalicelib.storage import models

FUNCTIONS = ("APIHandler", "agent_token", "handle_inbound", "handle_outbox", "sweep_timers", "handle_inbound_mail",
             "handle_notify_retry", "handle_stream_failure", "websocket_connect", "websocket_message",
             "websocket_disconnect")
STREAMS = {"handle_inbound": models.InboundMessage, "handle_outbox": models.Outbox}
# API Gateway's own refusals (before our code runs), answered in our error shape (DESIGN section 2) as
# infra/local/gateway.py does locally: response type -> status (None: keep API Gateway's), code,
# message (fixed: API Gateway's own messages may quote the Authorization header), headers.
GATEWAY_RESPONSES: dict[str, tuple[str | None, str, str, dict[str, str]]] = {
    "UNAUTHORIZED": ("401", "unauthorized", "missing or invalid bearer token", {}),
    "ACCESS_DENIED": ("403", "forbidden", "not allowed", {}),
    # a path with no route: without an Authorization header, and with one (API Gateway reads a
    # Bearer token there as an incomplete SigV4 header, "Authorization header requires 'Credential'")
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "no such route", {}),
    "INVALID_SIGNATURE": ("404", "not_found", "no such route", {}),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", "the request is too large", {}),
    "THROTTLED": ("429", "too_many_requests", "too many requests; try again shortly", {"Retry-After": "1"}),
    "DEFAULT_4XX": (None, "bad_request", "the request was refused", {}),
    "DEFAULT_5XX": ("502", "internal", "something went wrong on our side; try again", {}),
}


def _hash_first(keys: list[dict]) -> list[dict]:
    return sorted(keys, key=lambda k: k["KeyType"] != "HASH")


def _function(name: str) -> str:
    """Chalice's logical id of a function (its REST handler is APIHandler)."""
    return name if name == "APIHandler" else to_cfn_resource_name(name)


def _logical(model) -> str:
    return to_cfn_resource_name(models.base_name(model).replace("-", "_")) + "Table"


def table(model, stage: str) -> dict[str, Any]:
    schema = model._get_schema()
    props: dict[str, Any] = {
        "TableName": f"jetdesk-{stage}-{models.base_name(model)}",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": _hash_first(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": stage == "prod",
    }
    if schema["global_secondary_indexes"]:
        props["GlobalSecondaryIndexes"] = [
            {"IndexName": i["index_name"], "KeySchema": _hash_first(i["key_schema"]), "Projection": i["projection"]}
            for i in schema["global_secondary_indexes"]]
    if hasattr(model.Meta, "stream_view_type"):
        props["StreamSpecification"] = {"StreamViewType": model.Meta.stream_view_type}
    ttl = next((a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"), None)
    if ttl:
        props["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _queue(name: str, dlq: str | None = None, visibility: int = 180) -> dict[str, Any]:
    props: dict[str, Any] = {"QueueName": name, "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600,
                             "VisibilityTimeout": visibility}
    if dlq:
        props["RedrivePolicy"] = {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                  "maxReceiveCount": notifier.RETRY_RECEIVES}
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def _alarm(name: str, metric: str, namespace: str, dimensions: list, threshold: float = 0) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": name, "MetricName": metric, "Namespace": namespace, "Dimensions": dimensions,
        "Statistic": "Sum" if metric != "ApproximateNumberOfMessagesVisible" else "Maximum",
        "Period": 300, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "OpsAlertsTopic"}]}}


def template(stage: str) -> dict[str, Any]:
    prefix = f"jetdesk-{stage}"
    resources: dict[str, Any] = {_logical(m): table(m, stage) for m in models.ALL_MODELS}
    resources.update({
        "NotifyRetryDLQ": _queue(f"{prefix}-notify-retry-dlq"),
        "NotifyRetryQueue": _queue(f"{prefix}-notify-retry", dlq="NotifyRetryDLQ"),
        "StreamFailures": _queue(f"{prefix}-stream-failures"),
        "MailFailures": _queue(f"{prefix}-mail-failures"),
        "AgentAlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": f"{prefix}-agent-alerts", "KmsMasterKeyId": "alias/aws/sns"}},
        "InboundMailTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{prefix}-inbound-mail"}},
        "OpsAlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{prefix}-ops-alerts"}},
        "AttachmentsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                              "UpdateReplacePolicy": "Retain", "Properties": {
            "BucketName": {"Fn::Sub": f"{prefix}-attachments-${{AWS::AccountId}}"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "raw-mail", "Status": "Enabled", "Prefix": "inbound/", "ExpirationInDays": 90},
                {"Id": "dead-letter-bodies", "Status": "Enabled", "Prefix": "dead-letters/",   # ingest.KEEP_REJECTED
                 "ExpirationInDays": 14},
                {"Id": "attachments", "Status": "Enabled", "Prefix": "attachments/",
                 "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]}]}}},
        "AttachmentsBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "AttachmentsBucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "SesPutsInboundMail", "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"},
                 "Action": "s3:PutObject", "Resource": {"Fn::Sub": "${AttachmentsBucket.Arn}/inbound/*"},
                 "Condition": {"StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}}},
                {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [{"Fn::GetAtt": ["AttachmentsBucket", "Arn"]},
                              {"Fn::Sub": "${AttachmentsBucket.Arn}/*"}],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        "InboundMailRuleSet": {"Type": "AWS::SES::ReceiptRuleSet", "Properties": {"RuleSetName": f"{prefix}-inbound"}},
        "InboundMailRule": {"Type": "AWS::SES::ReceiptRule", "DependsOn": "AttachmentsBucketPolicy", "Properties": {
            "RuleSetName": {"Ref": "InboundMailRuleSet"},
            "Rule": {"Name": f"{prefix}-to-jetdesk", "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Require",
                     "Actions": [{"S3Action": {"BucketName": {"Ref": "AttachmentsBucket"},
                                               "ObjectKeyPrefix": "inbound/",
                                               "TopicArn": {"Ref": "InboundMailTopic"}}}]}}},
        "AgentsUserPool": {"Type": "AWS::Cognito::UserPool", "Properties": {
            "UserPoolName": f"{prefix}-agents", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "MfaConfiguration": "OPTIONAL", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True,
                                            "RequireNumbers": True, "RequireSymbols": False}}}},
        "AgentsUserPoolClient": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "UserPoolId": {"Ref": "AgentsUserPool"}, "ClientName": f"{prefix}-console", "GenerateSecret": False,
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}},
        "AgentsGroup": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {
            "GroupName": "agent", "UserPoolId": {"Ref": "AgentsUserPool"}}},
        "SupervisorsGroup": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {
            "GroupName": "supervisor", "UserPoolId": {"Ref": "AgentsUserPool"}}},
        "NotifyDLQDepthAlarm": _alarm(f"{prefix}-notify-dead-letters", "ApproximateNumberOfMessagesVisible",
                                      "AWS/SQS", [{"Name": "QueueName", "Value": f"{prefix}-notify-retry-dlq"}]),
        # handle_stream_failure empties the queue within seconds: the alarm counts what arrives
        "StreamFailuresAlarm": _alarm(f"{prefix}-stream-failures", "NumberOfMessagesSent",
                                      "AWS/SQS", [{"Name": "QueueName", "Value": f"{prefix}-stream-failures"}]),
        "MailFailuresAlarm": _alarm(f"{prefix}-mail-failures", "ApproximateNumberOfMessagesVisible",
                                    "AWS/SQS", [{"Name": "QueueName", "Value": f"{prefix}-mail-failures"}]),
    })
    for response_type, (status, code, message, headers) in GATEWAY_RESPONSES.items():
        body = json.dumps({"error": {"code": code, "message": message, "details": []}})
        props: dict[str, Any] = {"RestApiId": {"Ref": "RestAPI"}, "ResponseType": response_type,
                                 "ResponseTemplates": {"application/json": body}}
        if status:
            props["StatusCode"] = status
        if headers:
            props["ResponseParameters"] = {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()}
        resources[f"{to_cfn_resource_name(response_type.lower())}GatewayResponse"] = {
            "Type": "AWS::ApiGateway::GatewayResponse", "Properties": props}
    environment = {
        "JETDESK_TABLE_PREFIX": prefix,
        "JETDESK_ATTACHMENTS_BUCKET": {"Ref": "AttachmentsBucket"},
        "JETDESK_AGENT_ALERT_TOPIC_ARN": {"Ref": "AgentAlertsTopic"},
        "JETDESK_JWKS_URL": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${AgentsUserPool}"
                                        "/.well-known/jwks.json"},
        "JETDESK_JWT_ISSUER": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${AgentsUserPool}"},
        "JETDESK_JWT_AUDIENCE": {"Ref": "AgentsUserPoolClient"},
        "JETDESK_CHAT_WEBSOCKET_ENDPOINT": {"Fn::Sub": "https://${WebsocketAPI}.execute-api.${AWS::Region}"
                                                       ".amazonaws.com/api"},
    }
    for function in FUNCTIONS:
        name = _function(function)
        # x86_64, as chalice package builds its wheels for it (arm64 would need arm64 wheels)
        resources[name] = {"Properties": {"Environment": {"Variables": environment}}}
        resources[f"{name}ErrorsAlarm"] = _alarm(f"{prefix}-{name}-errors", "Errors", "AWS/Lambda",
                                                 [{"Name": "FunctionName", "Value": {"Ref": name}}])
    for function, model in STREAMS.items():
        name = _function(function)
        resources[name]["Properties"]["Events"] = {f"{name}DynamodbEventSource": {"Properties": {
            "Stream": {"Fn::GetAtt": [_logical(model), "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
            "MaximumRetryAttempts": 5, "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumRecordAgeInSeconds": 86400,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["StreamFailures", "Arn"]}}}}}}
    # what the streams give up on is read back by handle_stream_failure, subscribed to the queue by
    # chalice (by an ARN it builds from the name, no reference): the queue must exist first
    resources[_function("handle_stream_failure")]["DependsOn"] = ["StreamFailures"]
    # SNS invokes the mail handler asynchronously: after Lambda's own 2 retries the SNS event
    # (which names the raw mail in S3) is kept here rather than dropped
    resources[_function("handle_inbound_mail")]["Properties"]["EventInvokeConfig"] = {
        "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["MailFailures", "Arn"]}}}}
    for model in models.ALL_MODELS:
        resources[f"{_logical(model)}ThrottlesAlarm"] = _alarm(
            f"{prefix}-{models.base_name(model)}-throttles", "ThrottledRequests", "AWS/DynamoDB",
            [{"Name": "TableName", "Value": {"Ref": _logical(model)}}])
    return {"Resources": resources}


if __name__ == "__main__":
    stage = sys.argv[1] if len(sys.argv) > 1 else "dev"
    json.dump(template(stage), sys.stdout, indent=1)
