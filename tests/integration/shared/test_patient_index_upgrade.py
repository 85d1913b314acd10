"""The patient index (``events_patient_idx``) follows the published list of patient-indexed types: an
install over a schema whose index was built from an older list (before SUD counseling notes) builds
it again with every type, so a SUD counseling note's patient look-up is served by the index."""
import psycopg

from confide.contracts.patient_index import PATIENT_INDEXED_TYPES
from confide.eventstore import install

TEST_DB = "confide_test"


def _indexdef(admin_dsn, schema):
    from confide import config

    with psycopg.connect(config.with_dbname(admin_dsn, TEST_DB)) as conn:
        return conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = "
                            "'events_patient_idx'", (schema,)).fetchone()[0]


def test_an_index_from_an_older_type_list_is_built_again(admin_dsn, scratch_schema):
    from confide import config

    assert "SudCounselingNoteDrafted" in _indexdef(admin_dsn, scratch_schema)
    with psycopg.connect(config.with_dbname(admin_dsn, TEST_DB)) as conn:
        conn.execute(f'DROP INDEX "{scratch_schema}".events_patient_idx')
        conn.execute(f'CREATE INDEX events_patient_idx ON "{scratch_schema}".events '
                     "(((data::jsonb) ->> 'patient_id'), type) "
                     "WHERE type IN ('ProgressNoteDrafted', 'PsychotherapyNoteDrafted', 'AuthorizationRecorded')")
    assert "SudCounselingNoteDrafted" not in _indexdef(admin_dsn, scratch_schema)
    install.install_schema(admin_dsn, TEST_DB, scratch_schema)
    rebuilt = _indexdef(admin_dsn, scratch_schema)
    assert all(f"'{t}'" in rebuilt for t in PATIENT_INDEXED_TYPES), rebuilt
    install.install_schema(admin_dsn, TEST_DB, scratch_schema)  # a current index is left as it is
    assert _indexdef(admin_dsn, scratch_schema) == rebuilt
