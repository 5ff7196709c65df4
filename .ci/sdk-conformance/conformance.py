"""Conformance of desktag's emulator with the official Huawei Cloud Python SDK, used unmodified.

Run by run.sh against `desktag emulator --ak AK --seed seed.yaml` (the SK in DESKTAG_EMULATOR_SK):
every call is signed by the SDK's own SDK-HMAC-SHA256 signer and every response is parsed by its
own models, so a pass means the emulator speaks the wire format the SDK expects. The temporary
credentials checks sign with keys from the emulator's identity side (`X-Security-Token`) and run
the SDK's own OIDC exchange against the emulator's IAM endpoints.

    conformance.py URL             the checks; prints `N passed, M failed`, exit 1 on any failure
    conformance.py --v5 URL        captures the SDK's Authorization for the documented V5 request
"""

import os
import sys
import traceback

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkworkspace.v2 import (
    BatchAddDesktopsTagsReq,
    BatchAddDesktopsTagsRequest,
    BatchChangeTagsRequest,
    BatchDeleteDesktopsTagsReq,
    BatchDeleteDesktopsTagsRequest,
    CreateTagReq,
    CreateTagRequest,
    DeleteTagRequest,
    DesktopTagsInfo,
    ListDesktopsRequest,
    ShowTagByDesktopIdRequest,
    Tag,
    TagsReq,
    WorkspaceClient,
)

PID = "0123456789abcdef0123456789abcdef"
DESKTOPS = ["sdk-desk-%02d" % i for i in range(1, 13)] + ["sdk-desk-full"]
V5_AK = "HPUAEXAMPLEAK0000001"
V5_SK = "exampleSecretKey0123456789abcdefghijklmn"
V5_DOCUMENTED = "b898ad0b60121a6d9ca7be8d134c82dd805880ecdd1a07a0280df442436f5b2f"


def client(url, ak, sk, handler=None, user_agent=None):
    cfg = HttpConfig.get_default_config()
    cfg.ignore_ssl_verification = True
    cfg.timeout = (5, 10)
    if user_agent is not None:
        cfg.user_agent = user_agent
    builder = (
        WorkspaceClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, PID))
        .with_endpoints([url])
        .with_http_config(cfg)
    )
    if handler is not None:
        builder = builder.with_http_handler(handler)
    return builder.build()


def tags_of(c, desktop):
    res = c.show_tag_by_desktop_id(ShowTagByDesktopIdRequest(desktop_id=desktop))
    assert res.status_code == 200, res.status_code
    return {t.key: t.value for t in res.tags}


def expect_error(call, status, code_prefix):
    try:
        call()
    except ClientRequestException as e:
        assert e.status_code == status, "status %s, wanted %s (%s)" % (e.status_code, status, e)
        assert e.error_code and e.error_code.startswith(code_prefix), "error_code %r" % e.error_code
        assert e.error_msg, "error_msg is empty"
        assert e.request_id, "no request id (X-Request-Id)"
        return e
    raise AssertionError("expected HTTP %d, the call succeeded" % status)


def create(c, desktop, key, value):
    return c.create_tag(CreateTagRequest(desktop_id=desktop, body=CreateTagReq(tag=Tag(key=key, value=value))))


def checks(c, url, ak):
    def create_tag():
        res = create(c, "sdk-desk-01", "env", "dev")
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-01") == {"env": "dev"}

    def overwrite_tag():
        create(c, "sdk-desk-01", "env", "prod")
        assert tags_of(c, "sdk-desk-01") == {"env": "prod"}

    def create_without_value_gives_empty_value():
        create(c, "sdk-desk-01", "flag", None)
        assert tags_of(c, "sdk-desk-01")["flag"] == ""

    def show_tags_parses_models():
        res = c.show_tag_by_desktop_id(ShowTagByDesktopIdRequest(desktop_id="sdk-desk-full"))
        assert all(isinstance(t, Tag) for t in res.tags), res.tags
        assert len(res.tags) == 11 and res.tags[0].key == "_sys_enterprise_project_id", res.tags

    def delete_tag_with_encoded_keys():
        for key in ["cost center:a", "部门", "a+b@c"]:
            create(c, "sdk-desk-02", key, "x")
        for key in ["cost center:a", "部门", "a+b@c"]:
            res = c.delete_tag(DeleteTagRequest(desktop_id="sdk-desk-02", key=key))
            assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-02") == {}

    def delete_missing_key_is_success():
        res = c.delete_tag(DeleteTagRequest(desktop_id="sdk-desk-02", key="never-there"))
        assert res.status_code == 204, res.status_code

    def batch_create_and_delete():
        body = TagsReq(action="create", tags=[Tag(key="team", value="ops"), Tag(key="tier", value="1")])
        res = c.batch_change_tags(BatchChangeTagsRequest(desktop_id="sdk-desk-03", body=body))
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-03") == {"team": "ops", "tier": "1"}
        body = TagsReq(action="delete", tags=[Tag(key="team"), Tag(key="absent")])
        c.batch_change_tags(BatchChangeTagsRequest(desktop_id="sdk-desk-03", body=body))
        assert tags_of(c, "sdk-desk-03") == {"tier": "1"}

    def batch_change_tags_creates_and_deletes_on_one_desktop():
        body = TagsReq(action="create", tags=[Tag(key="a", value="1"), Tag(key="b", value="")])
        res = c.batch_change_tags(BatchChangeTagsRequest(desktop_id="sdk-desk-09", body=body))
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-09") == {"a": "1", "b": ""}
        body = TagsReq(action="delete", tags=[Tag(key="a"), Tag(key="b"), Tag(key="never-there")])
        res = c.batch_change_tags(BatchChangeTagsRequest(desktop_id="sdk-desk-09", body=body))
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-09") == {}

    def batch_add_desktops_tags_across_desktops():
        body = BatchAddDesktopsTagsReq(desktops=[
            DesktopTagsInfo(desktop_id="sdk-desk-10", tags=[Tag(key="env", value="prod"), Tag(key="team", value="ops")]),
            DesktopTagsInfo(desktop_id="sdk-desk-11", tags=[Tag(key="env", value="dev")]),
            # An unknown desktop id is left out silently, as the service documents.
            DesktopTagsInfo(desktop_id="no-such-desktop", tags=[Tag(key="env", value="x")]),
        ])
        res = c.batch_add_desktops_tags(BatchAddDesktopsTagsRequest(body=body))
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-10") == {"env": "prod", "team": "ops"}
        assert tags_of(c, "sdk-desk-11") == {"env": "dev"}

    def batch_delete_desktops_tags_across_desktops():
        body = BatchAddDesktopsTagsReq(desktops=[
            DesktopTagsInfo(desktop_id="sdk-desk-12", tags=[Tag(key="env", value="prod"), Tag(key="keep", value="1")]),
        ])
        c.batch_add_desktops_tags(BatchAddDesktopsTagsRequest(body=body))
        body = BatchDeleteDesktopsTagsReq(desktops=[
            DesktopTagsInfo(desktop_id="sdk-desk-12", tags=[Tag(key="env"), Tag(key="never-there")]),
            DesktopTagsInfo(desktop_id="no-such-desktop", tags=[Tag(key="env")]),
        ])
        res = c.batch_delete_desktops_tags(BatchDeleteDesktopsTagsRequest(body=body))
        assert res.status_code == 204, res.status_code
        assert tags_of(c, "sdk-desk-12") == {"keep": "1"}

    def batch_add_over_the_cap_changes_nothing():
        before = tags_of(c, "sdk-desk-full")
        body = BatchAddDesktopsTagsReq(desktops=[
            DesktopTagsInfo(desktop_id="sdk-desk-full", tags=[Tag(key="extra", value="x")]),
        ])
        expect_error(lambda: c.batch_add_desktops_tags(BatchAddDesktopsTagsRequest(body=body)), 400, "WKS.")
        assert tags_of(c, "sdk-desk-full") == before

    def list_pages_through_everything():
        seen, offset, total = [], 0, None
        while True:
            res = c.list_desktops(ListDesktopsRequest(offset=offset, limit=5))
            assert res.status_code == 200
            total = res.total_count
            if not res.desktops:
                break
            seen += [d.desktop_id for d in res.desktops]
            offset += len(res.desktops)
        assert total == len(DESKTOPS) and seen == sorted(DESKTOPS), (total, seen)

    def list_items_carry_tags_and_names():
        res = c.list_desktops(ListDesktopsRequest(desktop_id=["sdk-desk-01"]))
        (d,) = res.desktops
        assert (d.desktop_id, d.computer_name, d.user_name, d.status) == (
            "sdk-desk-01", "SDK-WKS-01", "user01", "ACTIVE"), d
        assert {t.key: t.value for t in d.tags} == tags_of(c, "sdk-desk-01")

    def list_filters_by_repeated_desktop_id():
        res = c.list_desktops(ListDesktopsRequest(desktop_id=["sdk-desk-05", "sdk-desk-04", "nope"]))
        assert [d.desktop_id for d in res.desktops] == ["sdk-desk-04", "sdk-desk-05"]
        assert res.total_count == 2

    def list_filters_by_computer_name():
        res = c.list_desktops(ListDesktopsRequest(computer_name="SDK-WKS-07"))
        assert [d.desktop_id for d in res.desktops] == ["sdk-desk-07"], res.desktops

    def list_rejects_limit_over_1000():
        expect_error(lambda: c.list_desktops(ListDesktopsRequest(limit=1001)), 400, "WKS.")

    def cap_rejects_an_eleventh_tag():
        before = tags_of(c, "sdk-desk-full")
        e = expect_error(lambda: create(c, "sdk-desk-full", "one-more", "x"), 400, "WKS.")
        assert "one-more" in e.error_msg, e.error_msg
        assert tags_of(c, "sdk-desk-full") == before
        create(c, "sdk-desk-full", "k0", "overwrite-is-fine")

    def batch_over_the_cap_changes_nothing():
        before = tags_of(c, "sdk-desk-full")
        body = TagsReq(action="create", tags=[Tag(key="k1", value="new"), Tag(key="extra", value="x")])
        expect_error(lambda: c.batch_change_tags(BatchChangeTagsRequest(desktop_id="sdk-desk-full", body=body)),
                     400, "WKS.")
        assert tags_of(c, "sdk-desk-full") == before

    def invalid_key_is_rejected():
        e = expect_error(lambda: create(c, "sdk-desk-06", "bad=key", "x"), 400, "WKS.")
        assert "bad=key" in e.error_msg, e.error_msg
        expect_error(lambda: create(c, "sdk-desk-06", "ok", "v" * 44), 400, "WKS.")
        assert tags_of(c, "sdk-desk-06") == {}

    def unknown_desktop_is_404():
        expect_error(lambda: tags_of(c, "no-such-desktop"), 404, "WKS.")
        expect_error(lambda: create(c, "no-such-desktop", "a", "b"), 404, "WKS.")

    def wrong_secret_key_is_401():
        bad = client(url, ak, "not-the-secret-key")
        e = expect_error(lambda: tags_of(bad, "sdk-desk-01"), 401, "APIGW.0301")
        assert "signature" in e.error_msg, e.error_msg
        expect_error(lambda: create(bad, "sdk-desk-08", "a", "b"), 401, "APIGW.")
        assert tags_of(c, "sdk-desk-08") == {}

    def wrong_access_key_is_401():
        bad = client(url, "NOTTHEACCESSKEY00001", os.environ["DESKTAG_EMULATOR_SK"])
        expect_error(lambda: tags_of(bad, "sdk-desk-01"), 401, "APIGW.0301")

    return [
        create_tag, overwrite_tag, create_without_value_gives_empty_value, show_tags_parses_models,
        delete_tag_with_encoded_keys, delete_missing_key_is_success, batch_create_and_delete,
        batch_change_tags_creates_and_deletes_on_one_desktop, batch_add_desktops_tags_across_desktops,
        batch_delete_desktops_tags_across_desktops, batch_add_over_the_cap_changes_nothing,
        list_pages_through_everything, list_items_carry_tags_and_names,
        list_filters_by_repeated_desktop_id, list_filters_by_computer_name,
        list_rejects_limit_over_1000, cap_rejects_an_eleventh_tag, batch_over_the_cap_changes_nothing,
        invalid_key_is_rejected, unknown_desktop_is_404, wrong_secret_key_is_401,
        wrong_access_key_is_401,
    ] + temporary_checks(url)


def temporary_checks(url):
    """Temporary credentials: the SDK signs with X-Security-Token, against keys the emulator's
    identity side issued (ECS metadata), and runs its own OIDC exchange against the emulator's IAM."""
    import json
    import tempfile
    import urllib.request

    def metadata_keys():
        with urllib.request.urlopen(url + "/openstack/latest/securitykey", timeout=10) as answer:
            return json.loads(answer.read())["credential"]

    def temporary_client(cred, with_token=True):
        creds = BasicCredentials(cred["access"], cred["secret"], PID)
        if with_token:
            creds = creds.with_security_token(cred["securitytoken"])
        cfg = HttpConfig.get_default_config()
        cfg.timeout = (5, 10)
        return (
            WorkspaceClient.new_builder()
            .with_credentials(creds)
            .with_endpoints([url])
            .with_http_config(cfg)
            .build()
        )

    def sdk_signs_with_a_security_token():
        cred = metadata_keys()
        assert len(cred["securitytoken"]) > 4096, "security tokens may exceed 4 KB"
        t = temporary_client(cred)
        res = t.list_desktops(ListDesktopsRequest(limit=1))
        assert res.status_code == 200, res.status_code
        create(t, DESKTOPS[0], "temporary", "yes")
        assert tags_of(t, DESKTOPS[0]).get("temporary") == "yes"

    def temporary_keys_without_their_token_are_401():
        t = temporary_client(metadata_keys(), with_token=False)
        expect_error(lambda: t.list_desktops(ListDesktopsRequest(limit=1)), 401, "APIGW.")

    def sdk_oidc_exchange_against_the_emulator():
        with tempfile.NamedTemporaryFile("w", suffix=".jwt", delete=False) as f:
            f.write("conformance-id-token")
            path = f.name
        creds = (
            BasicCredentials(project_id=PID)
            .with_idp_id("desktag-emulator")
            .with_id_token_file(path)
            .with_iam_endpoint(url)
        )
        cfg = HttpConfig.get_default_config()
        cfg.timeout = (5, 10)
        t = (
            WorkspaceClient.new_builder()
            .with_credentials(creds)
            .with_endpoints([url])
            .with_http_config(cfg)
            .build()
        )
        res = t.list_desktops(ListDesktopsRequest(limit=1))
        assert res.status_code == 200, res.status_code

    return [
        sdk_signs_with_a_security_token,
        temporary_keys_without_their_token_are_401,
        sdk_oidc_exchange_against_the_emulator,
    ]


def run_checks(url):
    ak = os.environ["CONFORMANCE_AK"]
    c = client(url, ak, os.environ["DESKTAG_EMULATOR_SK"])
    passed = failed = 0
    for check in checks(c, url, ak):
        try:
            check()
            passed += 1
            print("ok    %s" % check.__name__)
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print("FAIL  %s" % check.__name__)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def run_v5(url):
    """The documented V5 vector: create_tag with a preset X-Sdk-Date and UA suffix `desktag-test`."""
    captured = {}

    def capture(**kwargs):
        captured.update(kwargs["request"].header_params)

    c = client(url, V5_AK, V5_SK, HttpHandler().add_request_handler(capture), user_agent="desktag-test")
    c.preset_headers = {"X-Sdk-Date": "20240102T030405Z"}
    try:
        create(c, "d1e2f3a4-0000-1111-2222-333344445555", "env", "prod")
        outcome = "accepted"
    except ClientRequestException as e:
        outcome = "HTTP %d %s" % (e.status_code, e.error_code)
    auth = captured.get("Authorization", "")
    sig = auth.rsplit("Signature=", 1)[-1]
    print("V5 User-Agent: %s" % captured.get("User-Agent"))
    print("V5 Authorization: %s" % auth)
    print("V5 emulator answer (2024 date, so expected 401 APIGW.0303): %s" % outcome)
    print("V5 signature %s the documented b898ad0b…" % ("EQUALS" if sig == V5_DOCUMENTED else "DIFFERS FROM"))
    return 0 if outcome == "HTTP 401 APIGW.0303" else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--v5":
        sys.exit(run_v5(sys.argv[2]))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(run_checks(sys.argv[1]))
