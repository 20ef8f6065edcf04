#!/usr/bin/env bash
# Regenerates the Pub/Sub API stubs in runner/pubsub/proto from Salesforce's pubsub_api.proto.
# Needs grpcio-tools (a dev dependency): .venv/bin/pip install grpcio-tools
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
"$python" -m grpc_tools.protoc -I runner/pubsub/proto \
    --python_out=runner/pubsub/proto --pyi_out=runner/pubsub/proto \
    --grpc_python_out=runner/pubsub/proto runner/pubsub/proto/pubsub_api.proto
# protoc writes a top-level import of the message module; make it package-relative.
sed -i 's/^import pubsub_api_pb2 as pubsub__api__pb2$/from runner.pubsub.proto import pubsub_api_pb2 as pubsub__api__pb2/' \
    runner/pubsub/proto/pubsub_api_pb2_grpc.py
