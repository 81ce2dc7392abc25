-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0002: pack, pack_release, runtime, runtime_version (spec 04 §3.2–§3.4).
-- Restates upstream 20250101000002_pack_system ("best available" copy, spec 04 §8.1),
-- 20260818000002_pack_install_status, 20260821000001_pack_worker_placement,
-- 20260909000001_pack_releases, 20260909000005_pack_release_object_storage,
-- 20260909000006_storage_migration_maintenance, 20260909000007_bounded_object_retention
-- (pack_release columns). runtime_version.managed_release is added in 0004.
-- Catalog/retirement columns are added in 0004.

SET search_path TO attune, public;

-- ============================================================================
-- PACK
-- ============================================================================

CREATE TABLE pack (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    description TEXT,
    version TEXT NOT NULL,
    conf_schema JSONB NOT NULL DEFAULT '{}'::jsonb,
    config JSONB NOT NULL DEFAULT '{}'::jsonb,
    meta JSONB NOT NULL DEFAULT '{}'::jsonb,
    tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    runtime_deps TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    dependencies TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    is_standard BOOLEAN NOT NULL DEFAULT FALSE,
    installers JSONB DEFAULT '[]'::jsonb,
    source_type TEXT,
    source_url TEXT,
    source_ref TEXT,
    checksum TEXT,
    checksum_verified BOOLEAN DEFAULT FALSE,
    installed_at TIMESTAMPTZ,
    installed_by BIGINT,
    installation_method TEXT,
    storage_path TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT pack_ref_lowercase CHECK (ref = LOWER(ref)),
    CONSTRAINT pack_ref_format CHECK (ref ~ '^[a-z][a-z0-9_-]+$'),
    CONSTRAINT pack_version_semver CHECK (
        version ~ '^\d+\.\d+\.\d+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
    )
);

CREATE INDEX idx_pack_ref ON pack(ref);
CREATE INDEX idx_pack_created ON pack(created DESC);

CREATE TRIGGER update_pack_updated
    BEFORE UPDATE ON pack
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

ALTER TABLE pack
    ADD CONSTRAINT fk_pack_installed_by
    FOREIGN KEY (installed_by) REFERENCES identity(id) ON DELETE SET NULL;

ALTER TABLE pack
    ADD COLUMN install_status TEXT NOT NULL DEFAULT 'installed'
        CONSTRAINT valid_pack_install_status
        CHECK (install_status IN ('pending', 'installed', 'install_failed'));

ALTER TABLE pack
    ADD COLUMN worker_selector JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN worker_tolerations JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN worker_affinity JSONB NOT NULL DEFAULT '{}'::jsonb;

-- ============================================================================
-- PACK_RELEASE (immutable, digest-verified releases; spec 04 §3.4)
-- ============================================================================

CREATE TABLE pack_release (
    id BIGSERIAL PRIMARY KEY,
    pack BIGINT NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    archive_path TEXT,
    content_path TEXT NOT NULL,
    archive_size BIGINT NOT NULL CHECK (archive_size >= 0),
    manifest JSONB NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    object_key TEXT,
    provider_version TEXT,
    -- upstream 20260909000007_bounded_object_retention (spec 07 §7.4).
    inactive_since TIMESTAMPTZ,
    -- upstream 20260909000006_storage_migration_maintenance: earliest time the migrated
    -- filesystem archive may be removed.
    legacy_snapshot_expires_at TIMESTAMPTZ,

    CONSTRAINT pack_release_pack_version_unique UNIQUE (pack, version),
    CONSTRAINT pack_release_pack_id_unique UNIQUE (pack, id),
    CONSTRAINT pack_release_digest_sha256 CHECK (digest ~ '^[0-9a-f]{64}$'),
    CONSTRAINT pack_release_manifest_object CHECK (jsonb_typeof(manifest) = 'object'),
    CONSTRAINT pack_release_object_pointer_complete CHECK (
        (object_key IS NULL AND provider_version IS NULL)
        OR (object_key IS NOT NULL AND provider_version IS NOT NULL)
    )
);

CREATE INDEX idx_pack_release_pack_created ON pack_release(pack, created DESC);
CREATE INDEX idx_pack_release_digest ON pack_release(digest);

ALTER TABLE pack
    ADD COLUMN active_release BIGINT,
    ADD CONSTRAINT pack_active_release_same_pack
        FOREIGN KEY (id, active_release)
        REFERENCES pack_release(pack, id)
        DEFERRABLE INITIALLY DEFERRED;

-- ============================================================================
-- RUNTIME (spec 04 §3.2)
-- ============================================================================

CREATE TABLE runtime (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    pack BIGINT REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT,
    description TEXT,
    name TEXT NOT NULL,
    aliases TEXT[] NOT NULL DEFAULT '{}'::text[],
    distributions JSONB NOT NULL,
    installation JSONB,
    installers JSONB DEFAULT '[]'::jsonb,
    execution_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    auto_detected BOOLEAN NOT NULL DEFAULT FALSE,
    detection_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT runtime_ref_lowercase CHECK (ref = LOWER(ref))
);

CREATE INDEX idx_runtime_ref ON runtime(ref);
CREATE INDEX idx_runtime_pack ON runtime(pack);
CREATE INDEX idx_runtime_created ON runtime(created DESC);
CREATE INDEX idx_runtime_name ON runtime(name);
CREATE INDEX idx_runtime_verification ON runtime USING GIN ((distributions->'verification'));
CREATE INDEX idx_runtime_execution_config ON runtime USING GIN (execution_config);
CREATE INDEX idx_runtime_auto_detected ON runtime(auto_detected);
CREATE INDEX idx_runtime_detection_config ON runtime USING GIN (detection_config);
CREATE INDEX idx_runtime_aliases ON runtime USING GIN (aliases);

CREATE TRIGGER update_runtime_updated
    BEFORE UPDATE ON runtime
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

-- ============================================================================
-- RUNTIME_VERSION (spec 04 §3.3)
-- ============================================================================

CREATE TABLE runtime_version (
    id BIGSERIAL PRIMARY KEY,
    runtime BIGINT NOT NULL REFERENCES runtime(id) ON DELETE CASCADE,
    runtime_ref TEXT NOT NULL,
    version TEXT NOT NULL,
    -- NULL when the version string lacks that component
    -- (upstream 20260903000001_preserve_runtime_version_precision).
    version_major INT,
    version_minor INT,
    version_patch INT,
    execution_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    distributions JSONB NOT NULL DEFAULT '{}'::jsonb,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    -- Global flag, not per worker (spec 01 §8.1).
    available BOOLEAN NOT NULL DEFAULT TRUE,
    verified_at TIMESTAMPTZ,
    meta JSONB NOT NULL DEFAULT '{}'::jsonb,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT runtime_version_unique UNIQUE(runtime, version)
);

CREATE INDEX idx_runtime_version_runtime ON runtime_version(runtime);
CREATE INDEX idx_runtime_version_runtime_ref ON runtime_version(runtime_ref);
CREATE INDEX idx_runtime_version_version ON runtime_version(version);
CREATE INDEX idx_runtime_version_available ON runtime_version(available) WHERE available = TRUE;
CREATE INDEX idx_runtime_version_is_default ON runtime_version(is_default) WHERE is_default = TRUE;
CREATE INDEX idx_runtime_version_components ON runtime_version(runtime, version_major, version_minor, version_patch);
CREATE INDEX idx_runtime_version_created ON runtime_version(created DESC);

CREATE TRIGGER update_runtime_version_updated
    BEFORE UPDATE ON runtime_version
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();
