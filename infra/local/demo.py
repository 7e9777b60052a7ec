"""AWS resources and demo data of the local stack, from the same model definitions the code uses."""
from __future__ import annotations

import json

import boto3

from chalicelib.storage import models

QUEUES = {"general": "Everything else", "disruption": "Cancellations, delays, missed connections",
          "escalations": "SLA breaches and tickets nobody claimed in time (supervisors)"}
AGENTS = {
    "alice": {"name": "Alice Martin", "role": "agent", "queues": ["general", "disruption"], "languages": ["en", "fr"],
              "capacity": {"default": 5, "chat": 3}, "on_duty": True, "alert_via": "sms", "phone": "+15550100001"},
    "bob": {"name": "Bob Okafor", "role": "agent", "queues": ["general"], "languages": ["en"],
            "capacity": {"default": 5}},
    "sam": {"name": "Sam Rivera", "role": "supervisor", "queues": list(QUEUES), "languages": ["en", "fr"],
            "on_duty": True, "alert_via": "email", "email": "sam@jetdesk.local"},
}
RETRY_MAX_RECEIVES = 5


def create_resources(settings) -> dict[str, str]:
    """Tables (with indexes, streams, TTL), the retry queue and its DLQ, the agent-alert topic."""
    models.configure(settings)
    models.create_tables()
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    dlq = sqs.create_queue(QueueName=settings.notify_retry_queue + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=settings.notify_retry_queue, Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": RETRY_MAX_RECEIVES}),
    })
    sns = boto3.client("sns", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    topic = sns.create_topic(Name=f"{settings.table_prefix}-agent-alerts")["TopicArn"]
    mail_topic = sns.create_topic(Name=settings.inbound_mail_topic)["TopicArn"]
    # Lambda subscribes to the topic in AWS; locally an SQS queue does, and the pump hands it on.
    mail_queue = sqs.create_queue(QueueName=settings.inbound_mail_topic + "-local")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=mail_queue, AttributeNames=["QueueArn"])["Attributes"]
    mail_queue_arn = attributes["QueueArn"]
    sns.subscribe(TopicArn=mail_topic, Protocol="sqs", Endpoint=mail_queue_arn)
    s3 = boto3.client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    s3.create_bucket(Bucket=settings.attachments_bucket)
    return {"JETDESK_AGENT_ALERT_TOPIC_ARN": topic}


def seed() -> None:
    for name, description in QUEUES.items():
        on_duty = {a for a, f in AGENTS.items() if f.get("on_duty") and name in f["queues"]}
        models.Queue(name, description=description, on_duty=on_duty or None).save()
    for agent_id, fields in AGENTS.items():
        models.Agent(agent_id, **fields).save()
