-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0009: what log streams and file artifacts need beyond 0005 (spec 06 §2, 07 §7.4), written
-- idempotently so it also applies on top of a schema that already has these objects:
--   * CHECKs artifact_ref_path_safe / artifact_version_file_path_safe (upstream
--     20250101000025_artifact_path_constraints @457e0ae, NOT VALID as upstream);
--   * log_segment (20260909000004_immutable_log_segments; written by the API only);
--   (trg_enforce_artifact_retention_ready, 20260909000007, is created by 0005 with upstream's
--   function.)

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

