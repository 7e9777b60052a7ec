"""The only package that imports PynamoDB."""
