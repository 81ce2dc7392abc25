-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0010: pack tests — `pack_install` (the install/test state machine the worker's pack-test
-- consumer finishes) and `pack_test_execution` (one row per test run), spec 07 §1.5.
-- Restates upstream 20260818000002_pack_install_status (@5ec2c01), 20260822000002 /
-- 20260822000004 / 20260823000001 (@cc47afc), 20260919000002 (@126b167) for pack_install and
-- the pack-system table as altered by 20260818000001 (@5e1b952) for pack_test_execution.
-- IF NOT EXISTS guards: another fixture file may already restate these objects.

SET search_path TO attune, public;

DO $$ BEGIN
    CREATE TYPE absent_metadata_policy AS ENUM ('remove', 'disable', 'retain');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- ============================================================================
-- PACK_INSTALL — no FKs, no update trigger (upstream); ids are plain so they survive rollback.
-- ============================================================================

CREATE TABLE IF NOT EXISTS pack_install (
    id BIGSERIAL PRIMARY KEY,
    pack_ref TEXT NOT NULL,
    pack_version TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CONSTRAINT valid_pack_install_status_enum
        CHECK (status IN ('pending', 'running', 'activating', 'succeeded', 'failed', 'rolled_back')),
    trigger_reason TEXT NOT NULL,
    pack_id BIGINT,
    test_execution_id BIGINT,
    test_result JSONB,
    error_message TEXT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMPTZ,
    assigned_worker_id BIGINT,
    candidate_access_token_hash TEXT,
    requested_by BIGINT,
    absent_metadata_policy absent_metadata_policy NOT NULL DEFAULT 'remove'
);

CREATE INDEX IF NOT EXISTS idx_pack_install_pack_ref ON pack_install(pack_ref);
CREATE INDEX IF NOT EXISTS idx_pack_install_status ON pack_install(status);
CREATE INDEX IF NOT EXISTS idx_pack_install_assigned_worker
    ON pack_install(assigned_worker_id) WHERE assigned_worker_id IS NOT NULL;

-- ============================================================================
-- PACK_TEST_EXECUTION
-- ============================================================================

CREATE TABLE IF NOT EXISTS pack_test_execution (
    id BIGSERIAL PRIMARY KEY,
    pack_id BIGINT NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    pack_version VARCHAR(50) NOT NULL,
    execution_time TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    trigger_reason VARCHAR(50) NOT NULL
        CHECK (trigger_reason IN ('install', 'update', 'manual', 'validation')),
    total_tests INT NOT NULL CHECK (total_tests >= 0),
    passed INT NOT NULL CHECK (passed >= 0),
    failed INT NOT NULL CHECK (failed >= 0),
    skipped INT NOT NULL CHECK (skipped >= 0),
    pass_rate DOUBLE PRECISION NOT NULL CHECK (pass_rate >= 0 AND pass_rate <= 1),
    duration_ms BIGINT NOT NULL,
    result JSONB NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX IF NOT EXISTS idx_pack_test_execution_pack_id ON pack_test_execution(pack_id);
CREATE INDEX IF NOT EXISTS idx_pack_test_execution_time ON pack_test_execution(execution_time DESC);
CREATE INDEX IF NOT EXISTS idx_pack_test_execution_pass_rate ON pack_test_execution(pass_rate);
CREATE INDEX IF NOT EXISTS idx_pack_test_execution_trigger ON pack_test_execution(trigger_reason);

-- Upstream keeps a no-op AFTER INSERT trigger (metadata moved elsewhere); restated so inserts
-- fire a trigger as they do upstream.
CREATE OR REPLACE FUNCTION update_pack_test_metadata() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS trigger_update_pack_test_metadata ON pack_test_execution;
CREATE TRIGGER trigger_update_pack_test_metadata
    AFTER INSERT ON pack_test_execution
    FOR EACH ROW
    EXECUTE FUNCTION update_pack_test_metadata();

CREATE OR REPLACE VIEW pack_latest_test AS
SELECT DISTINCT ON (pte.pack_id)
    pte.pack_id, p.ref AS pack_ref, pte.id AS test_execution_id, pte.pack_version,
    pte.execution_time, pte.total_tests, pte.passed, pte.failed, pte.skipped, pte.pass_rate
FROM pack_test_execution pte
JOIN pack p ON p.id = pte.pack_id
ORDER BY pte.pack_id, pte.execution_time DESC;
