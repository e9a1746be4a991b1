"""PynamoDB settings for the export worker run against ``moto_server`` (``PYNAMODB_CONFIG``).

moto answers a Query by reading every item of the table, so with 100,000 rows and
several shard queries running side by side one can take longer than PynamoDB's
default 30 s read timeout. AWS answers in milliseconds; the app keeps the default.
"""

read_timeout_seconds = 600
