-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0007: pack_environment — cross-worker coordination of runtime environment installs
-- (spec 04 §3.13, §4.3). Restates the table of upstream 20250101000007_supporting_systems.
-- pack_environment_status_enum is created in 0001.

SET search_path TO attune, public;

CREATE TABLE pack_environment (
    id BIGSERIAL PRIMARY KEY,
    pack BIGINT NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT NOT NULL,
    runtime BIGINT NOT NULL REFERENCES runtime(id) ON DELETE CASCADE,
    runtime_ref TEXT NOT NULL,
    runtime_version BIGINT REFERENCES runtime_version(id) ON DELETE CASCADE,
    runtime_version_text TEXT,
    env_key TEXT GENERATED ALWAYS AS (
        CASE
            WHEN runtime_version IS NULL THEN 'base:' || pack::text || ':' || runtime::text
            ELSE 'version:' || pack::text || ':' || runtime::text || ':' || runtime_version::text
        END
    ) STORED,
    env_path TEXT NOT NULL,
    status pack_environment_status_enum NOT NULL DEFAULT 'pending',
    manifest_checksum TEXT,
    claimed_by_worker BIGINT REFERENCES worker(id) ON DELETE SET NULL,
    claim_expires_at TIMESTAMPTZ,
    installed_at TIMESTAMPTZ,
    last_verified TIMESTAMPTZ,
    install_log TEXT,
    install_error TEXT,
    metadata JSONB DEFAULT '{}'::jsonb,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE(env_key)
);

CREATE INDEX idx_pack_environment_pack ON pack_environment(pack);
CREATE INDEX idx_pack_environment_runtime ON pack_environment(runtime);
CREATE INDEX idx_pack_environment_runtime_version ON pack_environment(runtime_version);
CREATE INDEX idx_pack_environment_status ON pack_environment(status);
CREATE INDEX idx_pack_environment_pack_ref ON pack_environment(pack_ref);
CREATE INDEX idx_pack_environment_runtime_ref ON pack_environment(runtime_ref);
CREATE INDEX idx_pack_environment_pack_runtime ON pack_environment(pack, runtime);
CREATE INDEX idx_pack_environment_claim_expires_at ON pack_environment(claim_expires_at);
CREATE INDEX idx_pack_environment_claimed_by_worker ON pack_environment(claimed_by_worker);

CREATE TRIGGER update_pack_environment_updated
    BEFORE UPDATE ON pack_environment
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();
