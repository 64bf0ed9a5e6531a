#!/usr/bin/env bash
# Packages the service for AWS Lambda with osls, offline and without AWS credentials:
#   1. installs osls@4 into .build/osls (project-local, never global) when it is missing,
#   2. builds the Python dependency layer (scripts/build_layer.sh),
#   3. runs `osls package --stage ci` into .build/serverless with every AWS endpoint pointed at a
#      stub on 127.0.0.1 and fake credentials, so nothing can reach AWS.
# STAGE=... and OSLS_VERSION=... override the defaults; arguments go on to `osls package`
# (e.g. --param="secretsManagerSecretId=avatar-studio/prod/app").
#
# Why the stub: with a `layers:` section, `package` asks CloudFormation (DescribeStacks) whether the
# deployed stack already holds the same layer (an old upstream quirk, serverless/serverless#8187).
# The stub answers "stack does not exist", which osls takes as a first deploy; any other AWS call
# gets an error naming it, so an unexpected one fails the packaging instead of going out.
set -euo pipefail
cd "$(dirname "$0")/.."

stage=${STAGE:-ci}
osls_version=${OSLS_VERSION:-4}
osls_prefix=.build/osls
osls=$osls_prefix/node_modules/.bin/osls
out=.build/serverless
started=$SECONDS

if [[ ! -x $osls ]]; then
  echo "package_serverless: installing osls@$osls_version into $osls_prefix"
  mkdir -p "$osls_prefix"
  npm --prefix "$osls_prefix" install --no-save --no-audit --no-fund --loglevel=error "osls@$osls_version"
fi
echo "package_serverless: using $("$osls" --version | head -n1)"

scripts/build_layer.sh

stub_port_file=$(mktemp)
stub_pid=
cleanup() {
  [[ -n $stub_pid ]] && kill "$stub_pid" 2>/dev/null || true
  rm -f "$stub_port_file"
}
trap cleanup EXIT
python3 - "$stub_port_file" <<'PY' &
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


class Stub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
        action = form.get("Action", ["?"])[0]
        if action == "DescribeStacks":
            code, message = "ValidationError", f"Stack with id {form.get('StackName', ['?'])[0]} does not exist"
        else:
            code, message = "OfflinePackaging", f"unexpected AWS call {action} {self.path} while packaging offline"
            print(f"offline AWS stub: {message}", file=sys.stderr)
        body = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>offline</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(400)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = do_POST

    def log_message(self, *args: object) -> None:
        pass


server = HTTPServer(("127.0.0.1", 0), Stub)
with open(sys.argv[1], "w") as handle:
    handle.write(str(server.server_address[1]))
server.serve_forever()
PY
stub_pid=$!
for _ in $(seq 100); do [[ -s $stub_port_file ]] && break; sleep 0.05; done
[[ -s $stub_port_file ]] || { echo "package_serverless: the offline AWS stub did not start" >&2; exit 1; }
stub_url=http://127.0.0.1:$(cat "$stub_port_file")

echo "package_serverless: osls package --stage $stage --package $out (AWS endpoints -> $stub_url)"
rm -rf "$out"
env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ROLE_ARN -u AWS_WEB_IDENTITY_TOKEN_FILE \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  AWS_ENDPOINT_URL="$stub_url" AWS_MAX_ATTEMPTS=1 \
  SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
  NODE_NO_WARNINGS=1 CI=true \
  "$osls" package --stage "$stage" --package "$out" "$@"

echo "package_serverless: wrote $out in $((SECONDS - started))s:"
ls -l "$out"
