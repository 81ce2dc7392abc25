-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0006 (second file, applied after 0006_execution_notify_and_history.sql): event and
-- enforcement NOTIFY, the execution audit trail, native daily partitions and hourly-summary
-- invalidation — the remaining triggers on the tables the worker writes or reads
-- (spec 07 §7.4–§7.6). Restates upstream 20260902000002_related_notification_trace_tags
-- (newest event/enforcement payloads), 20250101000013_audit_log @e76cd03, 20261006000001_native_partitions
-- @a354b9c (registry, daily leaves) and 20261006000002_hourly_summaries @e76cd03
-- (invalidation table, grants and statement triggers). Not restated: the hourly summary
-- tables, native_summary_hour and the partition maintenance functions — only the API's
-- supervisor uses them.

SET search_path TO attune, public;

-- ============================================================================
-- EVENT / ENFORCEMENT NOTIFY (newest bodies, 20260902000002). The worker never writes
-- these tables; the enforcement functions read execution.trace_tag.
-- ============================================================================

CREATE OR REPLACE FUNCTION notify_event_created()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
BEGIN
    payload := json_build_object(
        'entity_type', 'event',
        'entity_id', NEW.id,
        'id', NEW.id,
        'trigger', NEW.trigger,
        'trigger_ref', NEW.trigger_ref,
        'source', NEW.source,
        'source_ref', NEW.source_ref,
        'rule', NEW.rule,
        'rule_ref', NEW.rule_ref,
        'trace_tag', NEW.trace_tag,
        'has_payload', NEW.payload IS NOT NULL,
        'created', NEW.created,
        'auth_mode', 'full'
    );
    compact := json_build_object(
        'entity_type', 'event',
        'entity_id', NEW.id,
        'id', NEW.id,
        'trigger_ref', NEW.trigger_ref,
        'rule_ref', NEW.rule_ref,
        'trace_tag', NEW.trace_tag,
        'auth_mode', 'deferred'
    );
    PERFORM _notify_payload_guard('event_created', payload::text, compact::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER event_created_notify
    AFTER INSERT ON event
    FOR EACH ROW
    EXECUTE FUNCTION notify_event_created();

-- Trace tag of an enforcement: its first traced execution, else its event's.
CREATE OR REPLACE FUNCTION notify_enforcement_created()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
    enforcement_trace_tag TEXT;
BEGIN
    SELECT trace_tag
    INTO enforcement_trace_tag
    FROM execution
    WHERE enforcement = NEW.id
      AND trace_tag IS NOT NULL
    ORDER BY created ASC, id ASC
    LIMIT 1;

    IF enforcement_trace_tag IS NULL AND NEW.event IS NOT NULL THEN
        SELECT trace_tag
        INTO enforcement_trace_tag
        FROM event
        WHERE id = NEW.event;
    END IF;

    payload := json_build_object(
        'entity_type', 'enforcement',
        'entity_id', NEW.id,
        'id', NEW.id,
        'rule', NEW.rule,
        'rule_ref', NEW.rule_ref,
        'trigger_ref', NEW.trigger_ref,
        'event', NEW.event,
        'status', NEW.status,
        'trace_tag', enforcement_trace_tag,
        'condition', NEW.condition,
        'created', NEW.created,
        'resolved_at', NEW.resolved_at,
        'auth_mode', 'full'
    );
    compact := json_build_object(
        'entity_type', 'enforcement',
        'entity_id', NEW.id,
        'id', NEW.id,
        'rule', NEW.rule,
        'rule_ref', NEW.rule_ref,
        'trigger_ref', NEW.trigger_ref,
        'event', NEW.event,
        'status', NEW.status,
        'trace_tag', enforcement_trace_tag,
        'auth_mode', 'deferred'
    );
    PERFORM _notify_payload_guard('enforcement_created', payload::text, compact::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION notify_enforcement_status_changed()
RETURNS TRIGGER AS $$
DECLARE
    payload JSON;
    compact JSON;
    enforcement_trace_tag TEXT;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status THEN
        SELECT trace_tag
        INTO enforcement_trace_tag
        FROM execution
        WHERE enforcement = NEW.id
          AND trace_tag IS NOT NULL
        ORDER BY created ASC, id ASC
        LIMIT 1;

        IF enforcement_trace_tag IS NULL AND NEW.event IS NOT NULL THEN
            SELECT trace_tag
            INTO enforcement_trace_tag
            FROM event
            WHERE id = NEW.event;
        END IF;

        payload := json_build_object(
            'entity_type', 'enforcement',
            'entity_id', NEW.id,
            'id', NEW.id,
            'rule', NEW.rule,
            'rule_ref', NEW.rule_ref,
            'trigger_ref', NEW.trigger_ref,
            'event', NEW.event,
            'status', NEW.status,
            'old_status', OLD.status,
            'trace_tag', enforcement_trace_tag,
            'condition', NEW.condition,
            'created', NEW.created,
            'resolved_at', NEW.resolved_at,
            'auth_mode', 'full'
        );
        compact := json_build_object(
            'entity_type', 'enforcement',
            'entity_id', NEW.id,
            'id', NEW.id,
            'rule', NEW.rule,
            'rule_ref', NEW.rule_ref,
            'trigger_ref', NEW.trigger_ref,
            'event', NEW.event,
            'status', NEW.status,
            'old_status', OLD.status,
            'trace_tag', enforcement_trace_tag,
            'auth_mode', 'deferred'
        );
        PERFORM _notify_payload_guard('enforcement_status_changed', payload::text, compact::text);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER enforcement_created_notify
    AFTER INSERT ON enforcement
    FOR EACH ROW
    EXECUTE FUNCTION notify_enforcement_created();

CREATE TRIGGER enforcement_status_changed_notify
    AFTER UPDATE ON enforcement
    FOR EACH ROW
    EXECUTE FUNCTION notify_enforcement_status_changed();

-- ============================================================================
-- AUDIT_EVENT (20250101000013 @e76cd03): written only by trigger on the worker's writes.
-- No FKs, so audit rows survive deletion of what they name.
-- ============================================================================

CREATE TYPE audit_category_enum AS ENUM ('api', 'auth', 'rbac', 'secret', 'admin', 'execution', 'pack');
CREATE TYPE audit_outcome_enum AS ENUM ('success', 'failure', 'denied');

CREATE TABLE audit_event (
    id                  BIGSERIAL           NOT NULL,
    created             TIMESTAMPTZ         NOT NULL DEFAULT NOW(),
    category            audit_category_enum NOT NULL,
    event_type          TEXT                NOT NULL,
    outcome             audit_outcome_enum  NOT NULL,
    actor_identity      BIGINT,
    actor_login         TEXT,
    actor_token_type    TEXT,
    actor_ip            INET,
    actor_user_agent    TEXT,
    request_id          UUID,
    resource_type       TEXT,
    resource_id         BIGINT,
    resource_ref        TEXT,
    http_method         TEXT,
    http_path           TEXT,
    http_status         INTEGER,
    duration_ms         INTEGER,
    details             JSONB,
    correlation_chain   JSONB,
    PRIMARY KEY (id, created)
) PARTITION BY RANGE (created);

CREATE TABLE audit_event_default PARTITION OF audit_event DEFAULT;

CREATE INDEX idx_audit_event_created ON audit_event (created DESC);
CREATE INDEX idx_audit_event_actor ON audit_event (actor_identity, created DESC) WHERE actor_identity IS NOT NULL;
CREATE INDEX idx_audit_event_category ON audit_event (category, created DESC);
CREATE INDEX idx_audit_event_event_type ON audit_event (event_type, created DESC);
CREATE INDEX idx_audit_event_outcome ON audit_event (outcome, created DESC);
CREATE INDEX idx_audit_event_resource ON audit_event (resource_type, resource_id, created DESC) WHERE resource_type IS NOT NULL;
CREATE INDEX idx_audit_event_resource_ref ON audit_event (resource_ref, created DESC) WHERE resource_ref IS NOT NULL;
CREATE INDEX idx_audit_event_request ON audit_event (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX idx_audit_event_details ON audit_event USING GIN (details);

CREATE OR REPLACE FUNCTION audit_execution_lifecycle()
RETURNS TRIGGER AS $$
DECLARE
    event_name TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        event_name := CASE NEW.status::text
            WHEN 'requested' THEN 'execution.requested'
            WHEN 'scheduled' THEN 'execution.scheduled'
            WHEN 'running' THEN 'execution.started'
            WHEN 'completed' THEN 'execution.completed'
            WHEN 'failed' THEN 'execution.failed'
            WHEN 'timeout' THEN 'execution.timed_out'
            WHEN 'cancelled' THEN 'execution.cancelled'
            ELSE 'execution.status_changed'
        END;
    ELSIF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        event_name := CASE NEW.status::text
            WHEN 'scheduled' THEN 'execution.scheduled'
            WHEN 'running' THEN 'execution.started'
            WHEN 'completed' THEN 'execution.completed'
            WHEN 'failed' THEN 'execution.failed'
            WHEN 'timeout' THEN 'execution.timed_out'
            WHEN 'cancelled' THEN 'execution.cancelled'
            WHEN 'canceling' THEN 'execution.canceling'
            WHEN 'abandoned' THEN 'execution.abandoned'
            ELSE 'execution.status_changed'
        END;
    ELSE
        RETURN NEW;
    END IF;

    INSERT INTO audit_event (
        category, event_type, outcome, actor_identity,
        resource_type, resource_id, resource_ref, details, correlation_chain
    ) VALUES (
        'execution'::audit_category_enum,
        event_name,
        CASE
            WHEN NEW.status::text IN ('failed', 'timeout', 'abandoned') THEN 'failure'::audit_outcome_enum
            ELSE 'success'::audit_outcome_enum
        END,
        NEW.executor,
        'execution',
        NEW.id,
        NEW.action_ref,
        jsonb_strip_nulls(jsonb_build_object(
            'operation', lower(TG_OP),
            'old_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status::text ELSE NULL END,
            'new_status', NEW.status::text,
            'action_ref', NEW.action_ref,
            'parent_execution_id', NEW.parent,
            'enforcement_id', NEW.enforcement,
            'worker_id', NEW.worker,
            'retry_count', NEW.retry_count,
            'max_retries', NEW.max_retries,
            'original_execution', NEW.original_execution
        )),
        jsonb_strip_nulls(jsonb_build_object(
            'execution_id', NEW.id,
            'parent_execution_id', NEW.parent,
            'enforcement_id', NEW.enforcement
        ))
    );

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trg_audit_execution_lifecycle
    AFTER INSERT OR UPDATE OF status ON execution
    FOR EACH ROW
    EXECUTE FUNCTION audit_execution_lifecycle();

-- ============================================================================
-- NATIVE PARTITIONS (20261006000001 @a354b9c): daily UTC leaves <parent>_pYYYYMMDD for
-- today and the next 7 days, recorded in native_partition_registry. Upstream's supervisor
-- maintains leaves afterwards; here later rows simply land in the DEFAULT partitions.
-- ============================================================================

SET LOCAL TIME ZONE 'UTC';

CREATE TYPE native_partition_parent AS ENUM ('event', 'execution_history', 'audit_event');
CREATE TABLE native_partition_registry (
    id BIGSERIAL PRIMARY KEY,
    parent native_partition_parent NOT NULL,
    partition_name TEXT NOT NULL UNIQUE,
    lower_bound TIMESTAMPTZ NOT NULL,
    upper_bound TIMESTAMPTZ NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (parent, lower_bound),
    CHECK (lower_bound = date_trunc('day', lower_bound, 'UTC')),
    CHECK (upper_bound = lower_bound + interval '24 hours')
);

DO $$
DECLARE
    parent_name TEXT; leaf TEXT; day TIMESTAMPTZ;
    today TIMESTAMPTZ := date_trunc('day', now(), 'UTC');
BEGIN
    FOREACH parent_name IN ARRAY ARRAY['event', 'execution_history', 'audit_event'] LOOP
        FOR day IN SELECT today + n * interval '1 day' FROM generate_series(0, 7) n LOOP
            leaf := parent_name || '_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD');
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                leaf, parent_name, day, day + interval '1 day');
            INSERT INTO native_partition_registry(parent, partition_name, lower_bound, upper_bound)
            VALUES (parent_name::native_partition_parent, leaf, day, day + interval '1 day');
        END LOOP;
    END LOOP;
END $$;

-- ============================================================================
-- HOURLY SUMMARY INVALIDATION (20261006000002 @e76cd03). Statement triggers on the history
-- parents (and event) insert one native_summary_invalidation row per kind and UTC hour,
-- deduplicated within the transaction, with the invoking role's privileges.
-- ============================================================================

CREATE TYPE native_summary_kind AS ENUM ('execution_status', 'execution_creation', 'event_volume', 'worker_status');
CREATE TABLE native_summary_state (
    kind native_summary_kind PRIMARY KEY,
    updated TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO native_summary_state(kind)
VALUES ('execution_status'), ('execution_creation'), ('event_volume'), ('worker_status');

-- No FK to the builder state: producers must not wait on its FOR UPDATE lock.
CREATE TABLE native_summary_invalidation (
    id BIGSERIAL PRIMARY KEY,
    kind native_summary_kind NOT NULL,
    bucket TIMESTAMPTZ NOT NULL CHECK (bucket = date_trunc('hour', bucket, 'UTC')),
    created TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    transaction_origin xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX idx_native_summary_invalidation_bucket ON native_summary_invalidation(kind, bucket, id);
CREATE INDEX idx_native_summary_invalidation_created ON native_summary_invalidation(created);
CREATE INDEX idx_native_summary_invalidation_origin ON native_summary_invalidation(kind, bucket, transaction_origin);

-- Roles that could write the source tables at migration time keep working: they get
-- INSERT, the ownership-predicate columns and the sequence. (A role created later without
-- these grants makes every status-changing worker/execution update fail; spec 07 §7.5.)
-- Upstream grants SELECT (…, xmin), which PostgreSQL 16+ accepts; PostgreSQL 15 has no
-- column privilege on a system column, so there (test machines only) the grant is SELECT on
-- the table, which the trigger's xmin check needs.
DO $$
DECLARE writer RECORD; role_name TEXT;
BEGIN
    FOR writer IN
        SELECT DISTINCT grantee FROM (
            SELECT x.grantee FROM pg_class c
            CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) x
            WHERE c.oid IN ('event'::regclass, 'execution_history'::regclass, 'worker_history'::regclass, 'execution'::regclass, 'worker'::regclass)
              AND x.privilege_type IN ('INSERT', 'UPDATE', 'DELETE')
            UNION
            SELECT x.grantee FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) x
            WHERE a.attrelid IN ('event'::regclass, 'execution_history'::regclass, 'worker_history'::regclass, 'execution'::regclass, 'worker'::regclass)
              AND x.privilege_type IN ('INSERT', 'UPDATE')
        ) writers
    LOOP
        role_name := CASE WHEN writer.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(writer.grantee)) END;
        EXECUTE format('GRANT INSERT ON native_summary_invalidation TO %s', role_name);
        IF current_setting('server_version_num')::int >= 160000 THEN
            EXECUTE format('GRANT SELECT (kind, bucket, transaction_origin, xmin) ON native_summary_invalidation TO %s', role_name);
        ELSE
            EXECUTE format('GRANT SELECT ON native_summary_invalidation TO %s', role_name);
        END IF;
        EXECUTE format('GRANT USAGE ON SEQUENCE native_summary_invalidation_id_seq TO %s', role_name);
    END LOOP;
END $$;

-- Transition tables deduplicate statement groups: a producer reuses only a marker whose
-- full origin AND actual tuple xmin belong to this transaction; filtering precedes
-- defaults, so ignored duplicates do not call nextval (upstream's comments, shortened).
CREATE FUNCTION native_summary_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_origin xid8 := pg_current_xact_id();
    v_xmin xid := v_origin::xid;
    v_status native_summary_kind := CASE TG_TABLE_NAME
        WHEN 'execution_history' THEN 'execution_status'::native_summary_kind
        ELSE 'worker_status'::native_summary_kind END;
    v_creation BOOLEAN := TG_TABLE_NAME = 'execution_history';
    v_group RECORD;
BEGIN
    IF TG_TABLE_NAME = 'event' THEN
        IF TG_OP = 'INSERT' THEN
            FOR v_group IN SELECT DISTINCT date_trunc('hour', created, 'UTC') AS bucket FROM native_new LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind='event_volume' AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES ('event_volume',v_group.bucket);
                END IF;
            END LOOP;
        ELSIF TG_OP = 'DELETE' THEN
            FOR v_group IN SELECT DISTINCT date_trunc('hour', created, 'UTC') AS bucket FROM native_old LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind='event_volume' AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES ('event_volume',v_group.bucket);
                END IF;
            END LOOP;
        ELSE
            FOR v_group IN SELECT DISTINCT date_trunc('hour', created, 'UTC') AS bucket
                FROM (SELECT created FROM native_old UNION ALL SELECT created FROM native_new) changed LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind='event_volume' AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES ('event_volume',v_group.bucket);
                END IF;
            END LOOP;
        END IF;
    ELSE
        IF TG_OP = 'INSERT' THEN
            FOR v_group IN
                SELECT kinds.kind,date_trunc('hour',r.time,'UTC') AS bucket FROM native_new r
                CROSS JOIN LATERAL (VALUES
                    (v_status,'status'=ANY(r.changed_fields)),
                    ('execution_creation'::native_summary_kind,v_creation AND r.operation='INSERT')
                ) kinds(kind,relevant) WHERE kinds.relevant GROUP BY kinds.kind,bucket
            LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind=v_group.kind AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES (v_group.kind,v_group.bucket);
                END IF;
            END LOOP;
        ELSIF TG_OP = 'DELETE' THEN
            FOR v_group IN
                SELECT kinds.kind,date_trunc('hour',r.time,'UTC') AS bucket FROM native_old r
                CROSS JOIN LATERAL (VALUES
                    (v_status,'status'=ANY(r.changed_fields)),
                    ('execution_creation'::native_summary_kind,v_creation AND r.operation='INSERT')
                ) kinds(kind,relevant) WHERE kinds.relevant GROUP BY kinds.kind,bucket
            LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind=v_group.kind AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES (v_group.kind,v_group.bucket);
                END IF;
            END LOOP;
        ELSE
            FOR v_group IN
                SELECT kinds.kind,date_trunc('hour',r.time,'UTC') AS bucket
                FROM (SELECT time,operation,changed_fields FROM native_old UNION ALL SELECT time,operation,changed_fields FROM native_new) r
                CROSS JOIN LATERAL (VALUES
                    (v_status,'status'=ANY(r.changed_fields)),
                    ('execution_creation'::native_summary_kind,v_creation AND r.operation='INSERT')
                ) kinds(kind,relevant) WHERE kinds.relevant GROUP BY kinds.kind,bucket
            LOOP
                IF NOT EXISTS (SELECT 1 FROM native_summary_invalidation i
                    WHERE i.kind=v_group.kind AND i.bucket=v_group.bucket AND i.transaction_origin=v_origin AND i.xmin=v_xmin) THEN
                    INSERT INTO native_summary_invalidation(kind,bucket) VALUES (v_group.kind,v_group.bucket);
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE source TEXT;
BEGIN
    FOREACH source IN ARRAY ARRAY['event', 'execution_history', 'worker_history'] LOOP
        EXECUTE format('CREATE TRIGGER native_summary_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS native_new FOR EACH STATEMENT EXECUTE FUNCTION native_summary_notify()', source);
        EXECUTE format('CREATE TRIGGER native_summary_update AFTER UPDATE ON %I REFERENCING OLD TABLE AS native_old NEW TABLE AS native_new FOR EACH STATEMENT EXECUTE FUNCTION native_summary_notify()', source);
        EXECUTE format('CREATE TRIGGER native_summary_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS native_old FOR EACH STATEMENT EXECUTE FUNCTION native_summary_notify()', source);
    END LOOP;
END $$;
