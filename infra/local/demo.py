"""AWS resources and demo data of the local stack, from the same model definitions the code uses."""
from __future__ import annotations

import json

import boto3

from chalicelib import clock
from chalicelib.services import notifier
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
# (id, title, intent, language, text): what supervisors would keep, for the console's suggestions
CANNED = [
    ("demo-cancel-en", "Cancelled: rebooking", "cancellation", "en",
     "Dear {customer_name}, I am sorry {flight} was cancelled. I am rebooking you now and will confirm the new "
     "flight here (ref {ref})."),
    ("demo-cancel-fr", "Annulation : nouvelle réservation", "cancellation", "fr",
     "Bonjour {customer_name}, je suis désolé(e) que le vol {flight} soit annulé. Je vous réserve un autre vol et "
     "vous le confirme ici (réf. {ref})."),
    ("demo-delay-en", "Delay: new time", "delay", "en",
     "Dear {customer_name}, {flight} is delayed and now leaves at {new_departure}. We are sorry for the wait."),
    ("demo-delay-fr", "Retard : nouvel horaire", "delay", "fr",
     "Bonjour {customer_name}, le vol {flight} est retardé ; il part désormais à {new_departure}. Toutes nos excuses."),
    ("demo-bag-en", "Bag: tracing started", "baggage", "en",
     "Dear {customer_name}, we have started tracing your bag under {ref} and will write as soon as it is located."),
    ("demo-bag-fr", "Bagage : recherche lancée", "baggage", "fr",
     "Bonjour {customer_name}, nous recherchons votre bagage sous la référence {ref} et vous écrivons dès qu'il est "
     "localisé."),
    ("demo-thanks-en", "Thanks for waiting", "general", "en",
     "Thank you for your patience, {customer_name}. I am looking into your case {ref} now."),
    ("demo-thanks-fr", "Merci de patienter", "general", "fr",
     "Merci de votre patience, {customer_name}. Je m'occupe de votre dossier {ref} dès maintenant."),
]


def create_resources(settings) -> dict[str, str]:
    """Tables (with indexes, streams, TTL), the retry queue and its DLQ, the stream-failures queue, the topics."""
    models.configure(settings)
    models.create_tables()
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    dlq = sqs.create_queue(QueueName=settings.notify_retry_queue + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=settings.notify_retry_queue, Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": notifier.RETRY_RECEIVES}),
    })
    sqs.create_queue(QueueName=settings.stream_failures_queue)   # the streams' on-failure destination
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


def seed_canned_responses() -> None:
    """The demo's canned responses (the local stack; the integration tests start without any)."""
    now = clock.now()
    for canned_id, title, intent, language, text in CANNED:
        models.CannedResponse(canned_id, title=title, intent=intent, language=language,
                              lang_id=f"{language}#{canned_id}", text=text, created_by="sam", created_at=now,
                              updated_by="sam", updated_at=now).save()
