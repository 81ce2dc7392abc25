-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0001: extensions, schema, enum types, shared functions, identity.
-- Restates (spec 04 §1–§2, §7.1) upstream migrations 20250101000001_initial_setup,
-- 20250101000003_identity_and_auth, 20250101000004 (action_reference_visibility_enum),
-- 20250101000017 (artifact_classification_enum), 20250101000020 (_notify_payload_guard),
-- 20260909000003 (artifact_body_state_enum), 20260912000001 (log_stream_backend_enum),
-- 20260912000002 (artifact_body_state_enum value cleanup_claimed, appended; created here in
-- its final form, so no file adds and uses the value in one transaction).
-- Applied by scripts/apply-schema.mjs inside one transaction.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

CREATE SCHEMA IF NOT EXISTS attune;
SET search_path TO attune, public;

-- ============================================================================
-- ENUM TYPES (values in upstream declaration order, spec 04 §2)
-- ============================================================================

CREATE TYPE worker_type_enum AS ENUM ('local', 'remote', 'container');
-- No 'hybrid': the newest upstream WorkerRole has only action and sensor (spec 07 §7.3; the
-- newest initial-setup DDL is not in the index, so this follows the Rust enum and issue 14).
CREATE TYPE worker_role_enum AS ENUM ('action', 'sensor');
CREATE TYPE worker_status_enum AS ENUM ('active', 'inactive', 'busy', 'error');
CREATE TYPE enforcement_status_enum AS ENUM ('created', 'processed', 'disabled');
CREATE TYPE enforcement_condition_enum AS ENUM ('any', 'all');
CREATE TYPE execution_status_enum AS ENUM (
    'requested',
    'scheduling',
    'scheduled',
    'running',
    'completed',
    'failed',
    'canceling',
    'cancelled',
    'timeout',
    'abandoned'
);
CREATE TYPE inquiry_status_enum AS ENUM ('pending', 'responded', 'timeout', 'cancelled');
CREATE TYPE policy_method_enum AS ENUM ('cancel', 'enqueue');
CREATE TYPE owner_type_enum AS ENUM ('system', 'identity', 'pack', 'action', 'sensor');
CREATE TYPE notification_status_enum AS ENUM ('created', 'queued', 'processing', 'error');
CREATE TYPE artifact_type_enum AS ENUM (
    'file_binary',
    'file_datatable',
    'file_image',
    'file_text',
    'other',
    'progress',
    'url'
);
CREATE TYPE artifact_retention_enum AS ENUM ('versions', 'days', 'hours', 'minutes');
CREATE TYPE artifact_visibility_enum AS ENUM ('public', 'private');
CREATE TYPE pack_environment_status_enum AS ENUM ('pending', 'installing', 'ready', 'failed', 'outdated');
CREATE TYPE action_reference_visibility_enum AS ENUM ('public', 'private', 'restricted');
CREATE TYPE artifact_classification_enum AS ENUM ('general', 'runtime_log');
CREATE TYPE artifact_body_state_enum AS ENUM ('pending', 'ready', 'deleting', 'cleanup_claimed');
CREATE TYPE log_stream_backend_enum AS ENUM ('object_segments', 'shared_file');

-- ============================================================================
-- SHARED FUNCTIONS
-- ============================================================================

-- BEFORE UPDATE trigger body for every table with an `updated` column (spec 04 §3).
CREATE OR REPLACE FUNCTION update_updated_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Emit the full NOTIFY payload when it fits the 7000-byte budget, else the compact one
-- (upstream migration 20250101000020; spec 04 §5).
CREATE OR REPLACE FUNCTION _notify_payload_guard(
    channel TEXT,
    full_payload TEXT,
    compact_payload TEXT
)
RETURNS VOID AS $$
BEGIN
    IF octet_length(full_payload) <= 7000 THEN
        PERFORM pg_notify(channel, full_payload);
    ELSE
        PERFORM pg_notify(channel, compact_payload);
    END IF;
END;
$$ LANGUAGE plpgsql;

-- Compact {digest, size, type} summary used by history triggers for large JSONB values.
CREATE OR REPLACE FUNCTION _jsonb_digest_summary(val JSONB)
RETURNS JSONB AS $$
BEGIN
    IF val IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN jsonb_build_object(
        'digest', 'md5:' || md5(val::text),
        'size',   octet_length(val::text),
        'type',   jsonb_typeof(val)
    );
END;
$$ LANGUAGE plpgsql IMMUTABLE;

-- ============================================================================
-- IDENTITY (readiness probe target, spec 04 §1.4; FK target of execution.executor,
-- worker.cordoned_by)
-- ============================================================================

CREATE TABLE identity (
    id BIGSERIAL PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT,
    password_hash TEXT,
    attributes JSONB NOT NULL DEFAULT '{}'::jsonb,
    frozen BOOLEAN NOT NULL DEFAULT false,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_identity_login ON identity(login);
CREATE INDEX idx_identity_created ON identity(created DESC);

CREATE TRIGGER update_identity_updated
    BEFORE UPDATE ON identity
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();
