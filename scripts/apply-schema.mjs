#!/usr/bin/env node
// DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
//
// Applies the development schema in scripts/sql/NNNN_*.sql (schema `attune`, restating the
// parts of upstream's migrations the agent touches; spec 04 §7) to a PostgreSQL database:
//   * creates the database when it does not exist (via the `postgres` maintenance database);
//   * applies each file once, in name order, each inside its own transaction, while holding a
//     session advisory lock, so concurrent runs serialise instead of racing;
//   * records every applied file and its sha256 in attune._agent_dev_migrations, so a second
//     run applies nothing, and refuses to continue when an applied file was edited afterwards.
//
// Usage: node scripts/apply-schema.mjs [DATABASE_URL]
//   default URL: $ATTUNE__DATABASE__URL, else postgresql://postgres@127.0.0.1:5432/attune_demo
// Library: import { applySchema } from './apply-schema.mjs'; await applySchema({ url, log });

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/attune_demo';
export const SQL_DIR = fileURLToPath(new URL('./sql/', import.meta.url));

/** Session advisory lock key; distinct from upstream's migration lock (78210015, spec 04 §1.3). */
const LOCK_KEY = 78210099;
const FILE_PATTERN = /^\d{4}_[a-z0-9_]+\.sql$/;
const DUPLICATE_DATABASE = '42P04';
// Two concurrent CREATE DATABASE of the same name can also fail on pg_database's unique index.
const UNIQUE_VIOLATION = '23505';

/** The SQL files in apply order: `[{ name, sql, sha256 }]`. */
export function listSchemaFiles(sqlDir = SQL_DIR) {
  return readdirSync(sqlDir)
    .filter((name) => FILE_PATTERN.test(name))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(sqlDir, name), 'utf8');
      return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
    });
}

/** `"name"` with embedded quotes doubled. */
function quoteIdent(name) {
  return `"${String(name).replace(/"/g, '""')}"`;
}

/** host:port/db for messages; never includes the password. */
function describe(url) {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || ''}`;
  } catch {
    return '<unparseable database URL>';
  }
}

function databaseName(url) {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`Database URL ${describe(url)} names no database`);
  return name;
}

function maintenanceUrl(url) {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

/** Create the target database if it does not exist. Returns true when it was created. */
export async function ensureDatabase(url) {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: maintenanceUrl(url) });
  // Connection loss surfaces as a rejected query; the event itself must not crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [name]);
    if (found.rowCount > 0) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return true;
    } catch (e) {
      // Another process created it between the check and the CREATE.
      if (e && (e.code === DUPLICATE_DATABASE || e.code === UNIQUE_VIOLATION)) return false;
      throw e;
    }
  } finally {
    await client.end();
  }
}

/**
 * Apply the development schema to `url` (creating the database when absent).
 * @param {{ url: string, log?: (line: string) => void, sqlDir?: string }} options
 * @returns {Promise<{ database: string, created: boolean, applied: string[], skipped: string[] }>}
 */
export async function applySchema({ url, log = () => {}, sqlDir = SQL_DIR }) {
  const files = listSchemaFiles(sqlDir);
  if (files.length === 0) throw new Error(`No schema files found in ${sqlDir}`);
  const created = await ensureDatabase(url);
  if (created) log(`created database ${describe(url)}`);

  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const applied = [];
  const skipped = [];
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEY]);
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS attune');
      await client.query(`CREATE TABLE IF NOT EXISTS attune._agent_dev_migrations (
        filename TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      )`);
      const rows = await client.query('SELECT filename, sha256 FROM attune._agent_dev_migrations');
      const done = new Map(rows.rows.map((r) => [r.filename, r.sha256]));

      for (const file of files) {
        const recorded = done.get(file.name);
        if (recorded !== undefined) {
          if (recorded !== file.sha256) {
            throw new Error(
              `Schema file ${file.name} changed after it was applied to ${describe(url)} ` +
                `(recorded sha256 ${recorded.slice(0, 12)}…, now ${file.sha256.slice(0, 12)}…). ` +
                'Applied files are immutable: add a new NNNN_*.sql file instead, or drop and recreate the database.',
            );
          }
          skipped.push(file.name);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(file.sql);
          await client.query('INSERT INTO attune._agent_dev_migrations (filename, sha256) VALUES ($1::text, $2::text)', [
            file.name,
            file.sha256,
          ]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          const err = new Error(`Applying ${file.name} to ${describe(url)} failed: ${e && e.message ? e.message : e}`);
          err.cause = e;
          throw err;
        }
        // The files SET search_path; restore the session default between files.
        await client.query('RESET search_path');
        applied.push(file.name);
        log(`applied ${file.name}`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEY]).catch(() => {});
    }
  } finally {
    await client.end();
  }
  return { database: databaseName(url), created, applied, skipped };
}

function isMain() {
  const entry = process.argv[1];
  return entry !== undefined && path.resolve(entry) === fileURLToPath(import.meta.url);
}

if (isMain()) {
  const url = process.argv[2] || process.env.ATTUNE__DATABASE__URL || DEFAULT_DATABASE_URL;
  applySchema({ url, log: (line) => console.log(line) })
    .then((r) => {
      console.log(
        `schema up to date on ${describe(url)}: ${r.applied.length} applied, ${r.skipped.length} already present`,
      );
    })
    .catch((e) => {
      console.error(`Error: ${e && e.message ? e.message : e}`);
      process.exit(1);
    });
}
