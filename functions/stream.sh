#!/bin/sh
# Started by the AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap): it relays each
# Function URL invocation to this server and streams the response back as it is written. Its requests
# come from 127.0.0.1 and carry the caller's headers, so X-Forwarded-For is not believed here.
exec python -m uvicorn functions.stream:app --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log \
  --no-proxy-headers
