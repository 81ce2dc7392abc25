-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0009: what log streams and file artifacts need beyond 0005 (spec 06 §2, 07 §7.4), written
-- idempotently so it also applies on top of a schema that already has these objects:
--   * CHECKs artifact_ref_path_safe / artifact_version_file_path_safe (upstream
--     20250101000025_artifact_path_constraints @457e0ae, NOT VALID as upstream);
--   * log_segment (20260909000004_immutable_log_segments; written by the API only);
--   * trg_enforce_artifact_retention_ready (20260909000007, function as in 20260915000001):
--     when a version turns pending → ready (the API's seal/complete), prune `versions`
--     retention and copy size/content type to the artifact if it is the highest ready version.

SET search_path TO attune, public;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'artifact_ref_path_safe') THEN
        ALTER TABLE artifact ADD CONSTRAINT artifact_ref_path_safe CHECK (
            ref <> ''
            AND ref = btrim(ref)
            AND left(ref, 1) <> '.'
            AND right(ref, 1) <> '.'
            AND position('..' IN ref) = 0
            AND ref !~ '[/:\\]'
        ) NOT VALID;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'artifact_version_file_path_safe') THEN
        ALTER TABLE artifact_version ADD CONSTRAINT artifact_version_file_path_safe CHECK (
            file_path IS NULL OR (
                file_path <> ''
                AND left(file_path, 1) <> '/'
                AND right(file_path, 1) <> '/'
                AND position('//' IN file_path) = 0
                AND position('\' IN file_path) = 0
                AND position(':' IN file_path) = 0
                AND file_path !~ '(^|/)\.\.?(/|$)'
            )
        ) NOT VALID;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS log_segment (
    id BIGSERIAL PRIMARY KEY,
    stream BIGINT NOT NULL REFERENCES log_stream(id) ON DELETE CASCADE,
    sequence BIGINT NOT NULL CHECK (sequence >= 0),
    byte_start BIGINT NOT NULL CHECK (byte_start >= 0),
    byte_end BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    object_key TEXT NOT NULL UNIQUE,
    provider_version TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT log_segment_byte_range CHECK (byte_end > byte_start),
    CONSTRAINT log_segment_size_matches CHECK (size_bytes = byte_end - byte_start),
    CONSTRAINT uq_log_segment_stream_sequence UNIQUE (stream, sequence)
);

CREATE OR REPLACE FUNCTION agent_dev_enforce_artifact_retention_ready()
RETURNS TRIGGER AS $$
DECLARE
    v_policy artifact_retention_enum;
    v_limit INTEGER;
BEGIN
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
                  WHERE stream.artifact_version = stale.id AND stream.backend = 'shared_file'
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

    IF NOT EXISTS (
        SELECT 1 FROM artifact_version newer
        WHERE newer.artifact = NEW.artifact AND newer.version > NEW.version
          AND (newer.body_state IS NULL OR newer.body_state = 'ready')
    ) THEN
        UPDATE artifact
        SET size_bytes = NEW.size_bytes,
            content_type = COALESCE(NEW.content_type, content_type)
        WHERE id = NEW.artifact;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'trg_enforce_artifact_retention_ready') THEN
        CREATE TRIGGER trg_enforce_artifact_retention_ready
            AFTER UPDATE OF body_state ON artifact_version
            FOR EACH ROW
            WHEN (OLD.body_state = 'pending' AND NEW.body_state = 'ready')
            EXECUTE FUNCTION agent_dev_enforce_artifact_retention_ready();
    END IF;
END
$$;
