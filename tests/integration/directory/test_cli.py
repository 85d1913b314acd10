"""``confide directory`` against the running directory container (the CLI's own key directory and vhost)."""
import json

from click.testing import CliRunner

from confide_app.directory_cli import directory as directory_cli


def test_cli_bootstrap_enrol_and_list(directory, directory_config, caller, ids, tmp_path, monkeypatch, web_db_dsn):
    monkeypatch.setenv("CONFIDE_AMQP_URI", directory_config["AMQP_URI"])
    monkeypatch.setenv("CONFIDE_KEY_DIR", directory_config["KEY_DIR"])
    monkeypatch.setenv("CONFIDE_WEB_DB_DSN", web_db_dsn)  # the first admin's enrolment link lives there
    monkeypatch.setenv("CONFIDE_WEB_SECRET_KEY", "test-only")
    admin_id, member_id = ids("M"), ids("C")
    runner = CliRunner()
    result = runner.invoke(directory_cli, ["enrol-first-admin", "--id", admin_id, "--name", "Ada", "--credentials", "MBA"])
    assert result.exit_code == 0, result.output
    assert f"enrolment link for {admin_id} (valid 24 h, shown once): http" in result.output
    assert "/enrol/" in result.output  # no password anywhere: a one-time link
    assertion = tmp_path / "assertion"
    assertion.write_text(caller.member(admin_id, "practice_admin"))
    result = runner.invoke(directory_cli, ["enrol-member", "--as-assertion-file", str(assertion), "--id", member_id,
                                           "--name", "Bo", "--credentials", "LCSW", "--role", "clinician"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(directory_cli, ["list", "--as-assertion-file", str(assertion)])
    assert {m["member_id"] for m in json.loads(result.output)["members"]} == {admin_id, member_id}
    result = runner.invoke(directory_cli, ["enrol-first-admin", "--id", ids("M"), "--name", "Y", "--credentials", "MD"])
    assert result.exit_code == 1 and "FirstAdminExistsError" in result.output
