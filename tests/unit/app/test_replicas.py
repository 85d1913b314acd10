"""`confide run --replicas N`: which instances start, where the front doors' replicas listen, and
the HAProxy configuration in front of them (checked by HAProxy itself)."""
import subprocess

import pytest

from confide import replicas as rep
from confide_app.supervisor import SERVICES, replicated_children, service_environments

PROJECTOR = "postgresql://confide_projector:secret@127.0.0.1:5432/confide"
HAPROXY = "/usr/sbin/haproxy"


def _envs(base):
    return service_environments(SERVICES, base, PROJECTOR)


def test_one_replica_keeps_every_service_its_name_and_address():
    plan = rep.plan(SERVICES, 1, {})
    assert [r.name for r in plan] == list(SERVICES)
    assert all(r.address is None for r in plan)


def test_n_replicas_of_the_replicated_services_and_one_directory():
    plan = rep.plan(SERVICES, 3, {})
    names = [r.name for r in plan]
    assert names.count("directory") == 1
    for service in rep.REPLICATED:
        assert [n for n in names if n.startswith(service + "-")] == [f"{service}-{i}" for i in (1, 2, 3)]
    assert len(set(names)) == len(names)


def test_front_door_replicas_listen_beside_the_front_door():
    env = {"CONFIDE_GATEWAY_ADDRESS": "127.0.0.1:9000", "CONFIDE_REPLICA_PORT_OFFSET": "50"}
    plan = {r.name: r for r in rep.plan(SERVICES, 2, env)}
    assert plan["gateway-1"].address == "127.0.0.1:9050" and plan["gateway-2"].address == "127.0.0.1:9051"
    assert plan["web-1"].address == "127.0.0.1:8130" and plan["web-2"].address == "127.0.0.1:8131"
    assert plan["notes-1"].address is None


@pytest.mark.parametrize("bad", [0, 17])
def test_a_replica_count_outside_1_to_16_is_refused(bad):
    with pytest.raises(ValueError, match="replicas"):
        rep.plan(SERVICES, bad, {})


def test_a_port_past_65535_or_a_bad_offset_is_refused():
    with pytest.raises(ValueError, match="port"):
        rep.plan(["gateway"], 2, {"CONFIDE_GATEWAY_ADDRESS": "127.0.0.1:65500"})
    with pytest.raises(ValueError, match="CONFIDE_REPLICA_PORT_OFFSET"):
        rep.plan(["gateway"], 2, {"CONFIDE_REPLICA_PORT_OFFSET": "-3"})


def test_each_replica_is_named_and_told_the_front_doors_url_not_its_own():
    base = {"CONFIDE_GATEWAY_ADDRESS": "127.0.0.1:9000", "PATH": "/usr/bin"}
    plan = {r.name: r for r in rep.plan(SERVICES, 2, base)}
    gw = rep.replica_env(plan["gateway-2"], base, 2)
    assert gw["CONFIDE_INSTANCE"] == "gateway-2" and gw["CONFIDE_REPLICAS"] == "2"
    assert gw["CONFIDE_GATEWAY_ADDRESS"] == "127.0.0.1:9101"
    assert gw["CONFIDE_GATEWAY_URL"] == "http://127.0.0.1:9000"  # client assertions name the front door
    web = rep.replica_env(plan["web-1"], base, 2, tls=True)
    assert web["CONFIDE_WEB_ADDRESS"] == "127.0.0.1:8180" and web["CONFIDE_WEB_BASE_URL"] == "https://127.0.0.1:8080"
    told = rep.replica_env(plan["gateway-1"], {**base, "CONFIDE_GATEWAY_URL": "https://api.example"}, 2)
    assert told["CONFIDE_GATEWAY_URL"] == "https://api.example"  # the operator's public URL is kept
    assert "CONFIDE_INSTANCE" not in base  # the caller's dict is left alone


def test_supervisor_children_put_haproxy_in_front_only_with_several_replicas(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFIDE_HAPROXY", HAPROXY)
    base = {"PATH": "/usr/bin", "CONFIDE_GATEWAY_ADDRESS": "127.0.0.1:9000", "CONFIDE_WEB_ADDRESS": "127.0.0.1:9080"}
    one, _ = replicated_children(list(SERVICES), 1, _envs(base), str(tmp_path))
    assert sorted(one) == sorted(SERVICES) and not (tmp_path / "haproxy.cfg").exists()
    two, envs = replicated_children(list(SERVICES), 2, _envs(base), str(tmp_path))
    assert two["haproxy"] == [HAPROXY, "-db", "-f", str(tmp_path / "haproxy.cfg")]
    assert "CONFIDE_PROJECTOR_DSN" in envs["audit-2"] and "CONFIDE_PROJECTOR_DSN" not in envs["notes-2"]
    assert "CONFIDE_PROJECTOR_DSN" not in envs["haproxy"]  # HAProxy gets no database login at all
    cfg = (tmp_path / "haproxy.cfg").read_text()
    assert "bind 127.0.0.1:9000" in cfg and "server gateway-2 127.0.0.1:9101 check" in cfg
    assert "bind 127.0.0.1:9080" in cfg and "server web-1 127.0.0.1:9180 check" in cfg


def _fronts(plan):
    fronts = {}
    for r in plan:
        if r.address:
            fronts.setdefault(r.service, (rep.front_address(r.service, {}), []))[1].append(r)
    return fronts


@pytest.mark.parametrize("tls", [{}, {"gateway": True, "web": True}])
def test_haproxy_accepts_the_rendered_configuration(tmp_path, tls):
    cfg = rep.haproxy_config(_fronts(rep.plan(SERVICES, 2, {})), tls)
    assert "uri /health" in cfg and ("check-ssl" in cfg) == bool(tls)
    assert ("mode tcp" in cfg) == bool(tls)
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    done = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_front_door_without_replicas_is_refused():
    with pytest.raises(ValueError, match="no replicas"):
        rep.haproxy_config({"gateway": ("127.0.0.1:8000", [])})
