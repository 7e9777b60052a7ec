"""Use cases: ingestion, threading and scoring, queues and claims, replies, notifications."""
