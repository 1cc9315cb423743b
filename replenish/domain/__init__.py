"""The domain model: plain Python, no Flask, SQLAlchemy, Celery, Redis or boto3."""
