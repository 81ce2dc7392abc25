// Types for scripts/apply-schema.mjs (plain Node ESM, imported by test/support/db.ts).
export declare const DEFAULT_DATABASE_URL: string;
export declare const SQL_DIR: string;

export interface SchemaFile {
  name: string;
  sql: string;
  sha256: string;
}

export interface ApplySchemaResult {
  database: string;
  created: boolean;
  applied: string[];
  skipped: string[];
}

export declare function listSchemaFiles(sqlDir?: string): SchemaFile[];
export declare function ensureDatabase(url: string): Promise<boolean>;
export declare function applySchema(options: {
  url: string;
  log?: (line: string) => void;
  sqlDir?: string;
}): Promise<ApplySchemaResult>;
