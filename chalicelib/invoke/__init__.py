"""The Invoker port (base.py) and its adapters: in-process, AWS Lambda (boto3), local worker pool."""
