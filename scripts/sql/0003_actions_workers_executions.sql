-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0003: action, trigger, event, enforcement, rule, worker, execution, execution_secret_value
-- (spec 04 §3.1, §3.5–§3.8, spec 07 §7.4). Restates upstream
-- 20250101000004_trigger_sensor_event_rule @a354b9c (action, trigger, event, enforcement),
-- 20250101000005_execution_and_operations @e76cd03 (rule, worker, execution,
-- execution_secret_value; execution.parent and execution.enforcement are plain BIGINTs that
-- may dangle after independent retention — no execution_parent_fkey /
-- execution_enforcement_fkey), the workflow migration's action columns,
-- 20250101000015_trace_tags, 20250101000016_source_trace_tags (event.trace_tag) and
-- 20260909000002_async_pack_release_pins.
-- trigger, event and rule exist so enforcement has its upstream keys (enforcement_rule_fkey,
-- uq_enforcement_rule_event) and the enforcement NOTIFY functions (0006) can read event.
-- Not recreated: workflow_definition, sensor — so action.workflow_def and
-- execution.workflow_def are plain BIGINT here, and trigger.sensor / event.source have no FK.

SET search_path TO attune, public;

-- ============================================================================
-- ACTION (spec 04 §3.5)
-- ============================================================================

CREATE TABLE action (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    pack BIGINT NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT NOT NULL,
    label TEXT NOT NULL,
    description TEXT,
    entrypoint TEXT NOT NULL,
    runtime BIGINT REFERENCES runtime(id),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    param_schema JSONB,
    out_schema JSONB,
    parameter_delivery TEXT NOT NULL DEFAULT 'stdin' CHECK (parameter_delivery IN ('stdin', 'file')),
    parameter_format TEXT NOT NULL DEFAULT 'json' CHECK (parameter_format IN ('dotenv', 'json', 'yaml')),
    output_format TEXT NOT NULL DEFAULT 'text' CHECK (output_format IN ('text', 'json', 'yaml', 'jsonl')),
    is_adhoc BOOLEAN NOT NULL DEFAULT FALSE,
    timeout_seconds INTEGER,
    max_retries INTEGER DEFAULT 0,
    runtime_version_constraint TEXT,
    accesses_mcp BOOLEAN NOT NULL DEFAULT FALSE,
    default_execution_permission_set_refs TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    reference_visibility action_reference_visibility_enum NOT NULL DEFAULT 'public',
    reference_allowed_pack_refs TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    log_retention_policy artifact_retention_enum,
    log_retention_limit INTEGER,
    artifact_retention_policy artifact_retention_enum,
    artifact_retention_limit INTEGER,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT action_ref_lowercase CHECK (ref = LOWER(ref)),
    CONSTRAINT action_ref_format CHECK (ref ~ '^[^.]+\.[^.]+$'),
    CONSTRAINT action_log_retention_limit_positive CHECK (log_retention_limit IS NULL OR log_retention_limit > 0),
    CONSTRAINT action_artifact_retention_limit_positive CHECK (artifact_retention_limit IS NULL OR artifact_retention_limit > 0),
    CONSTRAINT action_timeout_seconds_positive CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    CONSTRAINT action_reference_allowed_pack_refs_non_null
        CHECK (array_position(reference_allowed_pack_refs, NULL) IS NULL),
    CONSTRAINT action_reference_allowed_pack_refs_restricted_only
        CHECK (reference_visibility = 'restricted' OR cardinality(reference_allowed_pack_refs) = 0)
);

-- Workflow / placement columns (workflow migration, pack worker placement; spec 04 §3.5).
-- Upstream workflow_def references workflow_definition(id) ON DELETE CASCADE; that table
-- is not part of this fixture.
ALTER TABLE action
    ADD COLUMN workflow_def BIGINT,
    ADD COLUMN required_worker_runtimes JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN worker_selector JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN worker_tolerations JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN worker_affinity JSONB NOT NULL DEFAULT '{}'::jsonb;

CREATE INDEX idx_action_ref ON action(ref);
CREATE INDEX idx_action_pack ON action(pack);
CREATE INDEX idx_action_runtime ON action(runtime);
CREATE INDEX idx_action_enabled ON action(enabled);
CREATE INDEX idx_action_created ON action(created DESC);

CREATE TRIGGER update_action_updated
    BEFORE UPDATE ON action
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

-- ============================================================================
-- TRIGGER (never read by the worker; FK target of rule.trigger and event.trigger)
-- ============================================================================

CREATE TABLE trigger (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    pack BIGINT REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT,
    label TEXT NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    is_adhoc BOOLEAN DEFAULT false NOT NULL,
    param_schema JSONB,
    out_schema JSONB,
    webhook_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    webhook_key VARCHAR(64) UNIQUE,
    webhook_config JSONB DEFAULT '{}'::jsonb,
    sensor BIGINT,
    sensor_ref TEXT,
    reference_visibility action_reference_visibility_enum NOT NULL DEFAULT 'public',
    reference_allowed_pack_refs TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT trigger_ref_lowercase CHECK (ref = LOWER(ref)),
    CONSTRAINT trigger_ref_format CHECK (ref ~ '^[^.]+\.[^.]+$')
);

CREATE TRIGGER update_trigger_updated
    BEFORE UPDATE ON trigger
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

-- ============================================================================
-- EVENT (spec 07 §7.4, §7.6): RANGE-partitioned by created, PK (id, created), DEFAULT
-- partition; daily leaves are created in 0006 (upstream 20261006000001).
-- ============================================================================

CREATE TABLE event (
    id BIGSERIAL NOT NULL,
    trigger BIGINT REFERENCES trigger(id) ON DELETE SET NULL,
    trigger_ref TEXT NOT NULL,
    config JSONB,
    payload JSONB,
    source BIGINT,
    source_ref TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    rule BIGINT,
    rule_ref TEXT,
    trace_tag TEXT,
    PRIMARY KEY (id, created)
) PARTITION BY RANGE (created);

CREATE TABLE event_default PARTITION OF event DEFAULT;

CREATE INDEX idx_event_trigger ON event(trigger);
CREATE INDEX idx_event_trigger_ref ON event(trigger_ref);
CREATE INDEX idx_event_created ON event(created DESC);

-- ============================================================================
-- ENFORCEMENT (spec 04 §3.7; read only to export ATTUNE_RULE / ATTUNE_TRIGGER).
-- `event` is a plain BIGINT: no FK, for independent retention.
-- ============================================================================

CREATE TABLE enforcement (
    id BIGSERIAL PRIMARY KEY,
    rule BIGINT,
    rule_ref TEXT NOT NULL,
    trigger_ref TEXT NOT NULL,
    config JSONB,
    event BIGINT,
    status enforcement_status_enum NOT NULL DEFAULT 'created',
    payload JSONB NOT NULL,
    condition enforcement_condition_enum NOT NULL DEFAULT 'all',
    conditions JSONB NOT NULL DEFAULT '[]'::jsonb,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    resolved_at TIMESTAMPTZ,

    CONSTRAINT enforcement_condition_check CHECK (condition IN ('any', 'all'))
);

CREATE INDEX idx_enforcement_rule ON enforcement(rule);
CREATE INDEX idx_enforcement_rule_ref ON enforcement(rule_ref);
CREATE INDEX idx_enforcement_trigger_ref ON enforcement(trigger_ref);
CREATE INDEX idx_enforcement_event ON enforcement(event);
CREATE INDEX idx_enforcement_status ON enforcement(status);
CREATE INDEX idx_enforcement_created ON enforcement(created DESC);
CREATE UNIQUE INDEX uq_enforcement_rule_event
    ON enforcement (rule, event)
    WHERE rule IS NOT NULL AND event IS NOT NULL;

-- ============================================================================
-- RULE (upstream 20250101000005; never read by the worker). Then the FKs upstream adds
-- "now that rule table exists".
-- ============================================================================

CREATE TABLE rule (
    id BIGSERIAL PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    pack BIGINT NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    pack_ref TEXT NOT NULL,
    label TEXT NOT NULL,
    description TEXT,
    action BIGINT REFERENCES action(id) ON DELETE SET NULL,
    action_ref TEXT NOT NULL,
    trigger BIGINT REFERENCES trigger(id) ON DELETE SET NULL,
    trigger_ref TEXT NOT NULL,
    conditions JSONB NOT NULL DEFAULT '[]'::jsonb,
    action_params JSONB DEFAULT '{}'::jsonb,
    trigger_params JSONB DEFAULT '{}'::jsonb,
    permission_set_refs TEXT[],
    enabled BOOLEAN NOT NULL,
    is_adhoc BOOLEAN NOT NULL DEFAULT FALSE,
    owner_identity BIGINT REFERENCES identity(id) ON DELETE SET NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT rule_ref_lowercase CHECK (ref = LOWER(ref)),
    CONSTRAINT rule_ref_format CHECK (ref ~ '^[^.]+\.[^.]+$')
);

CREATE INDEX idx_rule_pack ON rule(pack);
CREATE INDEX idx_rule_action ON rule(action);
CREATE INDEX idx_rule_trigger ON rule(trigger);

CREATE TRIGGER update_rule_updated
    BEFORE UPDATE ON rule
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

ALTER TABLE enforcement
    ADD CONSTRAINT enforcement_rule_fkey
    FOREIGN KEY (rule) REFERENCES rule(id) ON DELETE SET NULL;

ALTER TABLE event
    ADD CONSTRAINT event_rule_fkey
    FOREIGN KEY (rule) REFERENCES rule(id) ON DELETE SET NULL;

-- ============================================================================
-- WORKER (spec 04 §3.1, spec 01 §4.1)
-- ============================================================================

CREATE TABLE worker (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    worker_type worker_type_enum NOT NULL,
    worker_role worker_role_enum NOT NULL,
    runtime BIGINT REFERENCES runtime(id) ON DELETE SET NULL,
    host TEXT,
    port INTEGER,
    status worker_status_enum NOT NULL DEFAULT 'active',
    capabilities JSONB,
    meta JSONB,
    last_heartbeat TIMESTAMPTZ,
    cordoned BOOLEAN NOT NULL DEFAULT FALSE,
    cordon_reason TEXT,
    cordoned_by BIGINT REFERENCES identity(id) ON DELETE SET NULL,
    cordoned_at TIMESTAMPTZ,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_worker_name ON worker(name);
CREATE INDEX idx_worker_type ON worker(worker_type);
CREATE INDEX idx_worker_role ON worker(worker_role);
CREATE INDEX idx_worker_runtime ON worker(runtime);
CREATE INDEX idx_worker_status ON worker(status);
CREATE INDEX idx_worker_last_heartbeat ON worker(last_heartbeat DESC) WHERE last_heartbeat IS NOT NULL;
CREATE INDEX idx_worker_created ON worker(created DESC);
CREATE INDEX idx_worker_status_role ON worker(status, worker_role);
CREATE INDEX idx_worker_capabilities_gin ON worker USING GIN (capabilities);
CREATE INDEX idx_worker_meta_gin ON worker USING GIN (meta);
CREATE INDEX idx_worker_capabilities_health_status ON worker USING GIN ((capabilities -> 'health' -> 'status'));
CREATE INDEX idx_worker_cordoned ON worker(cordoned) WHERE cordoned = TRUE;
CREATE INDEX idx_worker_role_cordoned_status ON worker(worker_role, cordoned, status);

CREATE TRIGGER update_worker_updated
    BEFORE UPDATE ON worker
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

-- ============================================================================
-- EXECUTION (spec 04 §3.6)
-- ============================================================================

CREATE TABLE execution (
    id BIGSERIAL PRIMARY KEY,
    action BIGINT,
    action_ref TEXT NOT NULL,
    config JSONB,
    env_vars JSONB,
    parent BIGINT,
    enforcement BIGINT,
    executor BIGINT,
    permission_set_refs TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    artifact_retention_policy artifact_retention_enum,
    artifact_retention_limit INTEGER,
    worker_selector JSONB,
    worker_tolerations JSONB,
    worker_affinity JSONB,
    worker BIGINT,
    status execution_status_enum NOT NULL DEFAULT 'requested',
    result JSONB,
    started_at TIMESTAMPTZ,
    timeout_seconds INTEGER,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- DB-only column, never selected by the worker (spec 04 §3.6). Upstream's FK target
    -- (workflow_definition) is not part of this fixture.
    workflow_def BIGINT,
    workflow_task JSONB,
    retry_count INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER,
    retry_reason TEXT,
    original_execution BIGINT,
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    CONSTRAINT execution_artifact_retention_limit_positive CHECK (artifact_retention_limit IS NULL OR artifact_retention_limit > 0),
    CONSTRAINT execution_timeout_seconds_positive CHECK (timeout_seconds IS NULL OR timeout_seconds > 0)
);

CREATE INDEX idx_execution_action ON execution(action);
CREATE INDEX idx_execution_action_ref ON execution(action_ref);
CREATE INDEX idx_execution_parent ON execution(parent);
CREATE INDEX idx_execution_enforcement ON execution(enforcement);
CREATE INDEX idx_execution_executor ON execution(executor);
CREATE INDEX idx_execution_permission_set_refs ON execution USING GIN (permission_set_refs);
CREATE INDEX idx_execution_worker_selector_gin ON execution USING GIN (worker_selector) WHERE worker_selector IS NOT NULL;
CREATE INDEX idx_execution_worker_tolerations_gin ON execution USING GIN (worker_tolerations) WHERE worker_tolerations IS NOT NULL;
CREATE INDEX idx_execution_worker_affinity_gin ON execution USING GIN (worker_affinity) WHERE worker_affinity IS NOT NULL;
CREATE INDEX idx_execution_worker ON execution(worker);
CREATE INDEX idx_execution_status ON execution(status);
CREATE INDEX idx_execution_created ON execution(created DESC);
CREATE INDEX idx_execution_updated ON execution(updated DESC);
CREATE INDEX idx_execution_status_created ON execution(status, created DESC);
CREATE INDEX idx_execution_status_updated ON execution(status, updated DESC);
CREATE INDEX idx_execution_action_status ON execution(action, status);
CREATE INDEX idx_execution_executor_created ON execution(executor, created DESC);
CREATE INDEX idx_execution_worker_created ON execution(worker, created DESC);
CREATE INDEX idx_execution_parent_created ON execution(parent, created DESC);
CREATE INDEX idx_execution_result_gin ON execution USING GIN (result);
CREATE INDEX idx_execution_env_vars_gin ON execution USING GIN (env_vars);
CREATE INDEX idx_execution_original_execution ON execution(original_execution) WHERE original_execution IS NOT NULL;
CREATE INDEX idx_execution_status_retry ON execution(status, retry_count) WHERE status = 'failed' AND retry_count < COALESCE(max_retries, 0);
CREATE INDEX idx_execution_top_level_created
    ON execution (created DESC)
    WHERE parent IS NULL;
CREATE UNIQUE INDEX uq_execution_top_level_enforcement
    ON execution (enforcement)
    WHERE enforcement IS NOT NULL
      AND parent IS NULL
      AND (config IS NULL OR NOT (config ? 'retry_of'));

CREATE TRIGGER update_execution_updated
    BEFORE UPDATE ON execution
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_column();

ALTER TABLE execution
    ADD CONSTRAINT execution_action_fkey
    FOREIGN KEY (action) REFERENCES action(id) ON DELETE SET NULL;
ALTER TABLE execution
    ADD CONSTRAINT execution_original_execution_fkey
    FOREIGN KEY (original_execution) REFERENCES execution(id) ON DELETE SET NULL;
ALTER TABLE execution
    ADD CONSTRAINT execution_executor_fkey
    FOREIGN KEY (executor) REFERENCES identity(id) ON DELETE SET NULL;
ALTER TABLE execution
    ADD CONSTRAINT execution_worker_fkey
    FOREIGN KEY (worker) REFERENCES worker(id) ON DELETE SET NULL;

-- Trace tags (upstream 20250101000015_trace_tags): immutable tag, partial index.
ALTER TABLE execution ADD COLUMN trace_tag TEXT;
CREATE INDEX idx_execution_trace_tag ON execution(trace_tag) WHERE trace_tag IS NOT NULL;

-- Release pins (upstream 20260909000002_async_pack_release_pins; spec 04 §3.6).
ALTER TABLE execution
    ADD COLUMN pack_release BIGINT REFERENCES pack_release(id) ON DELETE SET NULL,
    ADD COLUMN pack_release_digest TEXT,
    ADD COLUMN executable_snapshot JSONB,
    ADD CONSTRAINT execution_release_pin_complete CHECK (
        (pack_release IS NULL AND pack_release_digest IS NULL AND executable_snapshot IS NULL)
        OR (pack_release_digest IS NOT NULL AND executable_snapshot IS NOT NULL)
    ),
    ADD CONSTRAINT execution_release_digest_sha256 CHECK (
        pack_release_digest IS NULL OR pack_release_digest ~ '^[0-9a-f]{64}$'
    );

ALTER TABLE enforcement
    ADD COLUMN pack_release BIGINT REFERENCES pack_release(id) ON DELETE SET NULL,
    ADD COLUMN pack_release_digest TEXT,
    ADD COLUMN executable_snapshot JSONB,
    ADD CONSTRAINT enforcement_release_pin_complete CHECK (
        (pack_release IS NULL AND pack_release_digest IS NULL AND executable_snapshot IS NULL)
        OR (pack_release_digest IS NOT NULL AND executable_snapshot IS NOT NULL)
    ),
    ADD CONSTRAINT enforcement_release_digest_sha256 CHECK (
        pack_release_digest IS NULL OR pack_release_digest ~ '^[0-9a-f]{64}$'
    );

-- ============================================================================
-- EXECUTION_SECRET_VALUE (spec 04 §3.8). The UNIQUE is the upsert's ON CONFLICT target;
-- upstream leaves it unnamed, so PostgreSQL names it
-- execution_secret_value_entity_type_entity_id_json_path_key.
-- ============================================================================

CREATE TABLE execution_secret_value (
    id BIGSERIAL PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    json_path TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_ref TEXT,
    encrypted_value JSONB NOT NULL,
    encryption_key_hash TEXT,
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (entity_type, entity_id, json_path)
);

CREATE INDEX idx_execution_secret_value_entity
    ON execution_secret_value (entity_type, entity_id);
