"""`make package`: a CloudFormation template cfn-lint accepts, and a zip Lambda can import on its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.local.stage import PROJECT, stage_environment

ZIP_BUDGET_MB, UNZIPPED_BUDGET_MB = 50, 250  # Lambda's direct-upload and unzipped limits


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package")
    merge = out / "merge.json"
    merge.write_text(subprocess.run([sys.executable, "-m", "infra.cloudformation", "prod"], cwd=PROJECT, check=True,
                                    capture_output=True, text=True).stdout)
    chalice = Path(sys.executable).parent / "chalice"
    # the tests' table prefix would name the queues the handlers are subscribed to (`make package` has none)
    env = {k: v for k, v in os.environ.items() if k != "JETDESK_TABLE_PREFIX"}
    subprocess.run([str(chalice), "package", "--stage", "prod", "--merge-template", str(merge), str(out / "out")],
                   cwd=PROJECT, check=True, capture_output=True, env={**env, "AWS_DEFAULT_REGION": "us-east-1"})
    return out / "out"


@pytest.fixture(scope="module")
def resources(package) -> dict:
    return json.loads((package / "sam.json").read_text())["Resources"]


def test_cfn_lint_accepts_the_template(package):
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(package / "sam.json")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_every_table_comes_from_the_models_with_streams_ttl_recovery_and_encryption(resources):
    from chalicelib.storage import models
    tables = {r["Properties"]["TableName"]: r["Properties"] for r in resources.values()
              if r["Type"] == "AWS::DynamoDB::Table"}
    assert set(tables) == {f"jetdesk-prod-{models.base_name(m)}" for m in models.ALL_MODELS}
    tickets = tables["jetdesk-prod-tickets"]
    assert {i["IndexName"] for i in tickets["GlobalSecondaryIndexes"]} == {
        "queue-rank", "queue-age", "customer-tickets", "assignee-tickets", "ref", "timers"}
    assert tables["jetdesk-prod-inbound"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert tables["jetdesk-prod-outbox"]["TimeToLiveSpecification"]["Enabled"] is True
    assert all(t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for t in tables.values())
    assert all(t["SSESpecification"]["SSEEnabled"] for t in tables.values())


def test_stream_handlers_retry_bisect_and_keep_what_fails(resources):
    source = resources["HandleInbound"]["Properties"]["Events"]["HandleInboundDynamodbEventSource"]["Properties"]
    assert source["BisectBatchOnFunctionError"] is True and source["MaximumRetryAttempts"] == 5
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # retried from the failing record
    assert source["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamFailures", "Arn"]}
    assert resources["NotifyRetryQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


def test_what_the_streams_give_up_on_is_read_back_by_a_function_on_their_on_failure_queue(resources):
    function = resources["HandleStreamFailure"]
    source = function["Properties"]["Events"]["HandleStreamFailureSqsEventSource"]
    queue = resources["StreamFailures"]["Properties"]
    assert source["Type"] == "SQS" and source["Properties"]["Queue"]["Fn::Sub"].endswith(":" + queue["QueueName"])
    assert function["DependsOn"] == ["StreamFailures"]       # the queue exists before the subscription
    assert function["Properties"]["Environment"]["Variables"]["JETDESK_TABLE_PREFIX"] == "jetdesk-prod"
    assert queue["VisibilityTimeout"] >= function["Properties"]["Timeout"]   # Lambda refuses a shorter one
    # the handler empties the queue within seconds: the alarm counts what arrives, not what waits
    assert resources["StreamFailuresAlarm"]["Properties"]["MetricName"] == "NumberOfMessagesSent"


def test_a_mail_the_handler_could_not_store_is_kept_on_a_queue_after_lambdas_retries(resources):
    invoke = resources["HandleInboundMail"]["Properties"]["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS",
                                                        "Destination": {"Fn::GetAtt": ["MailFailures", "Arn"]}}
    assert resources["MailFailuresAlarm"]["Properties"]["Dimensions"][0]["Value"].endswith("-mail-failures")


def test_secrets_are_references_and_the_policy_is_written_by_hand(resources):
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["TWILIO_AUTH_TOKEN"].startswith("{{resolve:secretsmanager:")
    policies = json.loads((Path(PROJECT) / ".chalice" / "policy.json").read_text())["Statement"]
    assert all("*" not in action for p in policies for action in p["Action"])
    assert {"AWS::Cognito::UserPool", "AWS::SES::ReceiptRule", "AWS::S3::Bucket", "AWS::CloudWatch::Alarm"} <= {
        r["Type"] for r in resources.values()}


def test_api_gateways_own_refusals_answer_in_our_error_shape_and_an_unknown_route_is_404(resources):
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::ApiGateway::GatewayResponse"}
    expected = {"MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"), "INVALID_SIGNATURE": ("404", "not_found"),
                "UNAUTHORIZED": ("401", "unauthorized"), "ACCESS_DENIED": ("403", "forbidden"),
                "REQUEST_TOO_LARGE": ("413", "payload_too_large"), "THROTTLED": ("429", "too_many_requests"),
                "DEFAULT_4XX": (None, "bad_request"), "DEFAULT_5XX": ("502", "internal")}
    assert set(responses) == set(expected)
    for response_type, (status, code) in expected.items():
        response = responses[response_type]
        assert response["RestApiId"] == {"Ref": "RestAPI"} and response.get("StatusCode") == status, response_type
        error = json.loads(response["ResponseTemplates"]["application/json"])["error"]
        assert error["code"] == code and error["message"] and error["details"] == [], response_type
    assert responses["THROTTLED"]["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}


def test_the_zip_holds_the_app_and_no_test_tools_within_budget(package):
    archive = zipfile.ZipFile(package / "deployment.zip")
    names = set(archive.namelist())
    assert {"app.py", "chalicelib/services/conversations.py", "chalicelib/config/jet.json",
            "channels/__init__.py", "channels/twilio_sms.py",
            "chalicelib/web/console.html", "chalicelib/web/console.js", "chalicelib/web/chat.js"} <= names
    assert not {n.split("/")[0] for n in names} & {"moto", "pytest", "_pytest", "tests", "infra", "hypothesis"}
    assert (package / "deployment.zip").stat().st_size < ZIP_BUDGET_MB * 2**20
    assert sum(i.file_size for i in archive.infolist()) < UNZIPPED_BUDGET_MB * 2**20


def test_lambda_can_import_the_app_from_the_zip_alone(package, tmp_path):
    zipfile.ZipFile(package / "deployment.zip").extractall(tmp_path)
    probe = ("import sys; sys.path = [sys.argv[1]] + [p for p in sys.path if 'site-packages' not in p and p]; "
             "import app, channels.email, channels.meta; print(app.app.app_name, app.__file__)")
    env = {"PATH": os.environ["PATH"], **stage_environment("local"), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-S", "-c", probe, str(tmp_path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("jetdesk " + str(tmp_path))
