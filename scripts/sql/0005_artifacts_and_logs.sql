-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0005: artifact, artifact_version, log_stream and their triggers (spec 04 §3.10–§3.12, §5).
-- Restates upstream 20250101000007_supporting_systems (artifact tables),
-- 20250101000017_artifact_log_classification, 20250101000020_notification_payload_envelope
-- (artifact NOTIFY payloads), 20260909000003_artifact_object_storage,
-- 20260909000004_immutable_log_segments (log_stream only; the worker never writes
-- log_segment), 20260912000001_shared_file_log_streams (latest object-metadata CHECK and
-- retention trigger), 20260912000005_log_stream_notifications,
-- 20260909000006_storage_migration_maintenance (body_updated, legacy_snapshot_expires_at)
-- and 20260912000002/…03_artifact_cleanup_claims (cleanup_claimed in the metadata CHECK
-- and the immutability trigger; newest function bodies), 20250101000025_artifact_path_constraints,
-- 20260909000007_bounded_object_retention (deletion queue, retention on pending → ready).

SET search_path TO attune, public;

-- ============================================================================
-- ARTIFACT (spec 04 §3.10). `ref` is deliberately not unique upstream.
-- ============================================================================

CREATE TABLE artifact (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL,
    scope owner_type_enum NOT NULL DEFAULT 'system',
    owner TEXT NOT NULL DEFAULT '',
    type artifact_type_enum NOT NULL,
    visibility artifact_visibility_enum NOT NULL DEFAULT 'private',
    name TEXT,
    description TEXT,
    content_type TEXT,
    size_bytes BIGINT,
    data JSONB,
    retention_policy artifact_retention_enum NOT NULL DEFAULT 'versions',
    retention_limit INTEGER NOT NULL DEFAULT 1,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

ALTER TABLE artifact
    ADD COLUMN classification artifact_classification_enum NOT NULL DEFAULT 'general';

CREATE INDEX idx_artifact_ref ON artifact(ref);
CREATE INDEX idx_artifact_scope_owner ON artifact(scope, owner);
CREATE INDEX idx_artifact_created ON artifact(created DESC);

CREATE TRIGGER update_artifact_updated
    BEFORE UPDATE ON artifact
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

-- ============================================================================
-- ARTIFACT_VERSION (spec 04 §3.11)
-- ============================================================================

CREATE TABLE artifact_version (
    id BIGSERIAL PRIMARY KEY,
    artifact BIGINT NOT NULL REFERENCES artifact(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    execution BIGINT,
    content_type TEXT,
    size_bytes BIGINT,
    content BYTEA,
    content_json JSONB,
    file_path TEXT,
    meta JSONB,
    created_by TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- The worker's version-number retry matches this exact constraint name (spec 04 §4.2 step 13).
ALTER TABLE artifact_version
    ADD CONSTRAINT uq_artifact_version_artifact_version UNIQUE (artifact, version);

CREATE INDEX idx_artifact_version_artifact ON artifact_version(artifact);
CREATE INDEX idx_artifact_version_artifact_version ON artifact_version(artifact, version DESC);
CREATE INDEX idx_artifact_version_created ON artifact_version(created DESC);
CREATE INDEX idx_artifact_version_file_path ON artifact_version(file_path) WHERE file_path IS NOT NULL;
CREATE INDEX idx_artifact_version_execution ON artifact_version(execution) WHERE execution IS NOT NULL;
CREATE INDEX idx_artifact_version_artifact_execution ON artifact_version(artifact, execution) WHERE execution IS NOT NULL;

ALTER TABLE artifact_version
    ADD COLUMN body_state artifact_body_state_enum,
    ADD COLUMN object_key TEXT,
    ADD COLUMN provider_version TEXT,
    ADD COLUMN sha256 TEXT;

-- Set by the immutability trigger on every body_state change; read by maintenance.
ALTER TABLE artifact_version
    ADD COLUMN body_updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    ADD COLUMN legacy_snapshot_expires_at TIMESTAMPTZ;

CREATE INDEX idx_artifact_version_body_maintenance
    ON artifact_version(body_state, body_updated, id)
    WHERE body_state IS NOT NULL;

CREATE UNIQUE INDEX uq_artifact_version_object_key
    ON artifact_version(object_key)
    WHERE object_key IS NOT NULL;

-- Latest form (20260912000003): a shared-file version has no object key; cleanup_claimed
-- is treated like pending.
ALTER TABLE artifact_version
    ADD CONSTRAINT ck_artifact_version_object_metadata CHECK (
        (body_state IS NULL AND object_key IS NULL AND provider_version IS NULL AND sha256 IS NULL)
        OR (
            body_state IN ('pending', 'cleanup_claimed')
            AND provider_version IS NULL
            AND sha256 IS NULL
            AND size_bytes IS NULL
        )
        OR (
            body_state IN ('ready', 'deleting')
            AND size_bytes IS NOT NULL
            AND size_bytes >= 0
            AND sha256 ~ '^[0-9a-f]{64}$'
            AND (
                (object_key IS NOT NULL AND provider_version IS NOT NULL)
                OR (object_key IS NULL AND provider_version IS NULL AND file_path IS NOT NULL)
            )
        )
    );

-- Path grammar (upstream 20250101000025_artifact_path_constraints @457e0ae): refs and file
-- paths must be safe for path derivation. NOT VALID as upstream: enforced on new and updated
-- rows, which is every row the worker writes.
ALTER TABLE artifact
    ADD CONSTRAINT artifact_ref_path_safe CHECK (
        ref <> ''
        AND ref = btrim(ref)
        AND ref !~ '(^\.|\.{2}|[/:\\]|\.$)'
    ) NOT VALID;

ALTER TABLE artifact_version
    ADD CONSTRAINT artifact_version_file_path_safe CHECK (
        file_path IS NULL
        OR (
            file_path <> ''
            AND file_path !~ '(^/|\\|(^|/)\.\.?(/|$)|//|/$|:)'
        )
    ) NOT VALID;

CREATE OR REPLACE FUNCTION enforce_artifact_body_immutability()
RETURNS TRIGGER AS $$
BEGIN
    IF OLD.object_key IS NOT NULL AND NEW.object_key IS DISTINCT FROM OLD.object_key THEN
        RAISE EXCEPTION 'artifact object key is immutable';
    END IF;
    IF OLD.body_state IN ('ready', 'deleting') AND (
        NEW.provider_version IS DISTINCT FROM OLD.provider_version
        OR NEW.sha256 IS DISTINCT FROM OLD.sha256
        OR NEW.size_bytes IS DISTINCT FROM OLD.size_bytes
    ) THEN
        RAISE EXCEPTION 'ready artifact body metadata is immutable';
    END IF;
    IF OLD.body_state = 'ready' AND NEW.body_state NOT IN ('ready', 'deleting') THEN
        RAISE EXCEPTION 'ready artifact body can only transition to deleting';
    END IF;
    IF OLD.body_state IN ('deleting', 'cleanup_claimed') AND NEW.body_state <> OLD.body_state THEN
        RAISE EXCEPTION 'claimed artifact body cannot transition';
    END IF;
    IF NEW.body_state IS DISTINCT FROM OLD.body_state THEN
        NEW.body_updated = NOW();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_artifact_body_immutability
    BEFORE UPDATE ON artifact_version
    FOR EACH ROW
    EXECUTE FUNCTION enforce_artifact_body_immutability();

-- ============================================================================
-- LOG_STREAM (spec 04 §3.12). artifact_version UNIQUE = the insert's ON CONFLICT target.
-- ============================================================================

CREATE TABLE log_stream (
    id BIGSERIAL PRIMARY KEY,
    artifact_version BIGINT NOT NULL UNIQUE REFERENCES artifact_version(id) ON DELETE CASCADE,
    max_unflushed_bytes BIGINT NOT NULL CHECK (max_unflushed_bytes > 0),
    max_unflushed_milliseconds BIGINT NOT NULL CHECK (max_unflushed_milliseconds > 0),
    next_sequence BIGINT NOT NULL DEFAULT 0 CHECK (next_sequence >= 0),
    total_bytes BIGINT NOT NULL DEFAULT 0 CHECK (total_bytes >= 0),
    truncated BOOLEAN NOT NULL DEFAULT FALSE,
    sealed BOOLEAN NOT NULL DEFAULT FALSE,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    sealed_at TIMESTAMPTZ
);

ALTER TABLE log_stream
    ADD COLUMN backend log_stream_backend_enum NOT NULL DEFAULT 'object_segments';

-- ============================================================================
-- RETENTION (latest upstream form; pending/deleting versions are never pruned at insert)
-- ============================================================================

CREATE OR REPLACE FUNCTION enforce_artifact_retention()
RETURNS TRIGGER AS $$
DECLARE
    v_policy artifact_retention_enum;
    v_limit INTEGER;
BEGIN
    IF NEW.body_state = 'pending' OR NEW.body_state = 'deleting' THEN
        RETURN NEW;
    END IF;

    SELECT retention_policy, retention_limit INTO v_policy, v_limit
    FROM artifact WHERE id = NEW.artifact;

    IF v_policy = 'versions' AND v_limit > 0 THEN
        DELETE FROM artifact_version
        WHERE id IN (
            SELECT stale.id FROM artifact_version stale
            WHERE stale.artifact = NEW.artifact
              AND (stale.body_state IS NULL OR stale.body_state = 'ready')
              AND NOT EXISTS (
                  SELECT 1 FROM log_stream stream
                  WHERE stream.artifact_version = stale.id
                    AND stream.backend = 'shared_file'
              )
              AND stale.id NOT IN (
                  SELECT kept.id FROM artifact_version kept
                  WHERE kept.artifact = NEW.artifact
                    AND (kept.body_state IS NULL OR kept.body_state = 'ready')
                  ORDER BY kept.version DESC LIMIT v_limit
              )
            ORDER BY stale.version ASC LIMIT 100
        );
    END IF;

    UPDATE artifact
    SET size_bytes = NEW.size_bytes,
        content_type = COALESCE(NEW.content_type, content_type)
    WHERE id = NEW.artifact;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_enforce_artifact_retention
    AFTER INSERT ON artifact_version
    FOR EACH ROW
    EXECUTE FUNCTION enforce_artifact_retention();

-- A pending body that becomes ready is counted for retention then (20260909000007).
CREATE TRIGGER trg_enforce_artifact_retention_ready
    AFTER UPDATE OF body_state ON artifact_version
    FOR EACH ROW
    WHEN (OLD.body_state = 'pending' AND NEW.body_state = 'ready')
    EXECUTE FUNCTION enforce_artifact_retention();

-- ============================================================================
-- OBJECT DELETION QUEUE (upstream 20260909000007_bounded_object_retention): deleting a
-- pack release or an artifact version with an object body (e.g. by the retention trigger
-- above, on the worker's artifact insert) queues the exact object version for deletion.
-- The log_segment trigger of that migration belongs with log_segment (not in this fixture).
-- ============================================================================

CREATE TABLE object_maintenance_ledger (
    id BIGSERIAL PRIMARY KEY,
    object_key TEXT NOT NULL UNIQUE,
    provider_version TEXT,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('pack', 'artifact', 'log')),
    size_bytes BIGINT CHECK (size_bytes IS NULL OR size_bytes >= 0),
    state TEXT NOT NULL DEFAULT 'uploading'
        CHECK (state IN ('uploading', 'ready', 'deletion_pending', 'deleting')),
    eligible_at TIMESTAMPTZ,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CHECK ((state = 'uploading' AND provider_version IS NULL)
        OR (state <> 'uploading' AND provider_version IS NOT NULL))
);

CREATE INDEX idx_object_maintenance_collect
    ON object_maintenance_ledger(state, eligible_at, updated, id);

CREATE OR REPLACE FUNCTION enqueue_deleted_object()
RETURNS TRIGGER AS $$
DECLARE
    v_size BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'artifact_version'
       AND EXISTS (SELECT 1 FROM log_stream WHERE artifact_version = OLD.id) THEN
        RETURN OLD;
    END IF;
    IF OLD.object_key IS NOT NULL AND OLD.provider_version IS NOT NULL THEN
        IF TG_TABLE_NAME = 'pack_release' THEN
            v_size := OLD.archive_size;
        ELSE
            v_size := OLD.size_bytes;
        END IF;
        INSERT INTO object_maintenance_ledger
            (object_key, provider_version, object_kind, size_bytes, state, eligible_at, updated)
        VALUES (OLD.object_key, OLD.provider_version, TG_ARGV[0], v_size, 'deletion_pending', NOW(), NOW())
        ON CONFLICT (object_key) DO UPDATE
        SET state = 'deletion_pending', eligible_at = NOW(), updated = NOW(), last_error = NULL
        WHERE object_maintenance_ledger.provider_version = EXCLUDED.provider_version;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_pack_release_enqueue_object
    BEFORE DELETE ON pack_release FOR EACH ROW
    EXECUTE FUNCTION enqueue_deleted_object('pack');
CREATE TRIGGER trg_artifact_version_enqueue_object
    BEFORE DELETE ON artifact_version FOR EACH ROW
    EXECUTE FUNCTION enqueue_deleted_object('artifact');

CREATE INDEX idx_pack_release_inactive_retention
    ON pack_release(pack, inactive_since DESC, id DESC)
    WHERE inactive_since IS NOT NULL;
CREATE INDEX idx_execution_pack_release_pin
    ON execution(pack_release) WHERE pack_release IS NOT NULL;
CREATE INDEX idx_enforcement_pack_release_pin
    ON enforcement(pack_release) WHERE pack_release IS NOT NULL;

-- ============================================================================
-- NOTIFY (payload envelope of upstream 20250101000020)
-- ============================================================================

CREATE OR REPLACE FUNCTION notify_artifact_created()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
BEGIN
    payload := json_build_object(
        'entity_type', 'artifact',
        'entity_id', NEW.id,
        'id', NEW.id,
        'ref', NEW.ref,
        'type', NEW.type,
        'visibility', NEW.visibility,
        'classification', NEW.classification,
        'name', NEW.name,
        'scope', NEW.scope,
        'owner', NEW.owner,
        'content_type', NEW.content_type,
        'size_bytes', NEW.size_bytes,
        'created', NEW.created,
        'auth_mode', 'full'
    );

    compact := json_build_object(
        'entity_type', 'artifact',
        'entity_id', NEW.id,
        'id', NEW.id,
        'ref', NEW.ref,
        'type', NEW.type,
        'visibility', NEW.visibility,
        'scope', NEW.scope,
        'owner', NEW.owner,
        'auth_mode', 'deferred'
    );

    PERFORM _notify_payload_guard('artifact_created', payload::text, compact::text);

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER artifact_created_notify
    AFTER INSERT ON artifact
    FOR EACH ROW
    EXECUTE FUNCTION notify_artifact_created();

CREATE OR REPLACE FUNCTION notify_artifact_updated()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
    latest_percent DOUBLE PRECISION;
    latest_message TEXT;
    entry_count INTEGER;
    latest_execution BIGINT;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT av.execution
        INTO latest_execution
        FROM artifact_version av
        WHERE av.artifact = NEW.id
        ORDER BY av.version DESC
        LIMIT 1;

        IF NEW.type = 'progress' AND NEW.data IS NOT NULL AND jsonb_typeof(NEW.data) = 'array' THEN
            entry_count := jsonb_array_length(NEW.data);
            IF entry_count > 0 THEN
                latest_percent := (NEW.data -> (entry_count - 1) ->> 'percent')::DOUBLE PRECISION;
                latest_message := NEW.data -> (entry_count - 1) ->> 'message';
            END IF;
        END IF;

        payload := json_build_object(
            'entity_type', 'artifact',
            'entity_id', NEW.id,
            'id', NEW.id,
            'ref', NEW.ref,
            'type', NEW.type,
            'visibility', NEW.visibility,
            'classification', NEW.classification,
            'name', NEW.name,
            'scope', NEW.scope,
            'owner', NEW.owner,
            'content_type', NEW.content_type,
            'size_bytes', NEW.size_bytes,
            'execution', latest_execution,
            'progress_percent', latest_percent,
            'progress_message', latest_message,
            'progress_entries', entry_count,
            'created', NEW.created,
            'updated', NEW.updated,
            'auth_mode', 'full'
        );

        compact := json_build_object(
            'entity_type', 'artifact',
            'entity_id', NEW.id,
            'id', NEW.id,
            'ref', NEW.ref,
            'type', NEW.type,
            'visibility', NEW.visibility,
            'scope', NEW.scope,
            'owner', NEW.owner,
            'execution', latest_execution,
            'progress_percent', latest_percent,
            'progress_entries', entry_count,
            'auth_mode', 'deferred'
        );

        PERFORM _notify_payload_guard('artifact_updated', payload::text, compact::text);
    END IF;

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER artifact_updated_notify
    AFTER UPDATE ON artifact
    FOR EACH ROW
    EXECUTE FUNCTION notify_artifact_updated();

CREATE OR REPLACE FUNCTION notify_artifact_version_changed()
RETURNS TRIGGER AS $$
DECLARE
    artifact_row artifact%ROWTYPE;
    payload JSON;
    compact JSON;
    latest_percent DOUBLE PRECISION;
    latest_message TEXT;
    entry_count INTEGER;
BEGIN
    SELECT *
    INTO artifact_row
    FROM artifact
    WHERE id = NEW.artifact;

    IF NOT FOUND THEN
        RETURN NEW;
    END IF;

    IF artifact_row.type = 'progress'
        AND artifact_row.data IS NOT NULL
        AND jsonb_typeof(artifact_row.data) = 'array'
    THEN
        entry_count := jsonb_array_length(artifact_row.data);
        IF entry_count > 0 THEN
            latest_percent := (artifact_row.data -> (entry_count - 1) ->> 'percent')::DOUBLE PRECISION;
            latest_message := artifact_row.data -> (entry_count - 1) ->> 'message';
        END IF;
    END IF;

    payload := json_build_object(
        'entity_type', 'artifact',
        'entity_id', artifact_row.id,
        'id', artifact_row.id,
        'ref', artifact_row.ref,
        'type', artifact_row.type,
        'visibility', artifact_row.visibility,
        'classification', artifact_row.classification,
        'name', artifact_row.name,
        'scope', artifact_row.scope,
        'owner', artifact_row.owner,
        'content_type', COALESCE(NEW.content_type, artifact_row.content_type),
        'size_bytes', COALESCE(NEW.size_bytes, artifact_row.size_bytes),
        'execution', NEW.execution,
        'artifact_version_id', NEW.id,
        'version', NEW.version,
        'progress_percent', latest_percent,
        'progress_message', latest_message,
        'progress_entries', entry_count,
        'created', artifact_row.created,
        'updated', NOW(),
        'auth_mode', 'full'
    );

    compact := json_build_object(
        'entity_type', 'artifact',
        'entity_id', artifact_row.id,
        'id', artifact_row.id,
        'ref', artifact_row.ref,
        'type', artifact_row.type,
        'visibility', artifact_row.visibility,
        'scope', artifact_row.scope,
        'owner', artifact_row.owner,
        'execution', NEW.execution,
        'artifact_version_id', NEW.id,
        'version', NEW.version,
        'progress_percent', latest_percent,
        'progress_entries', entry_count,
        'auth_mode', 'deferred'
    );

    PERFORM _notify_payload_guard('artifact_updated', payload::text, compact::text);

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER artifact_version_notify
    AFTER INSERT OR UPDATE OF size_bytes, file_path, content, content_json ON artifact_version
    FOR EACH ROW
    EXECUTE FUNCTION notify_artifact_version_changed();

CREATE OR REPLACE FUNCTION notify_log_stream_changed()
RETURNS TRIGGER AS $$
BEGIN
    PERFORM pg_notify(
        'log_stream_changed',
        json_build_object(
            'stream_id', NEW.id,
            'artifact_version_id', NEW.artifact_version,
            'total_bytes', NEW.total_bytes,
            'sealed', NEW.sealed
        )::text
    );
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER log_stream_changed_notify
    AFTER UPDATE OF total_bytes, sealed ON log_stream
    FOR EACH ROW
    WHEN (OLD.total_bytes IS DISTINCT FROM NEW.total_bytes OR OLD.sealed IS DISTINCT FROM NEW.sealed)
    EXECUTE FUNCTION notify_log_stream_changed();
