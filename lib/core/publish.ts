/**
 * Publishing without locking readers out, and without losing what other people built on the
 * published tables.
 *
 * A run never drops a published schema: inside its transaction it renames it to a retired
 * name and creates a fresh one (readers take no lock on a schema and do not see uncommitted
 * catalog changes, so they keep reading the previous tables until COMMIT, then the new ones).
 * Before the rename, what others added is captured: the schema's and each table's owner,
 * grants and comment, the schema's default privileges, views and materialized views of other
 * schemas built on its tables, and foreign keys from other schemas into them. Default
 * privileges are declared again on the fresh schema at once; the rest is restored on the
 * rebuilt namesakes at the end of the transaction. The retired schemas are dropped after
 * COMMIT, in a short transaction of their own that gives way to readers (or by the next run).
 *
 * Schemas the toolkit creates are recorded in `<meta>.owned_schemas`; it refuses to manage
 * any other (see {@linkcode guardSchemas}).
 * @module
 */
import type postgres from "postgres";
import { quoteIdent, type Sql } from "./db.ts";
import { ConfigError } from "./errors.ts";
import { type Logger, silentLogger } from "./log.ts";
import { pause } from "./retry.ts";

/** A pool, a reserved connection or a transaction. */
type Queryable = Sql | postgres.TransactionSql;

/** Runs one statement of the restore; `where` names the object in errors. */
export type StatementRun = (statement: string, where: string) => Promise<void>;

/** The schema of the staging tables (a run's own, never published). */
export const STAGING_SCHEMA = "lml_staging";

/** Prefix of retired schemas (the previous data of a run, dropped after its COMMIT). */
export const RETIRED_PREFIX = "lml_retired_";

/** Schemas no config may name: PostgreSQL's own and `public`. */
export function reservedSchema(name: string): boolean {
  return name === "public" || name === "information_schema" || name.startsWith("pg_");
}

/** The placeholder for the object's new qualified name in a captured statement. */
const OBJECT = "{object}";

/** A relation of a retired schema: what is carried to its rebuilt namesake. */
interface RelationState {
  name: string;
  /** ALTER keyword: table, view, materialized view, sequence, foreign table. */
  kind: string;
  owner: string;
  comment: string | null;
  grants: string[];
}

/** What a schema carries over to its rebuilt namesake. */
export interface SchemaState {
  /** The schema's name. */
  schema: string;
  /** Set when the schema existed. */
  existed: boolean;
  owner: string | null;
  comment: string | null;
  grants: string[];
  defaultPrivileges: string[];
  relations: RelationState[];
}

/** A view or materialized view of another schema, built on a replaced table. */
interface DependentView {
  /** Qualified, quoted name. */
  name: string;
  /** "view" or "materialized view". */
  kind: string;
  definition: string;
  options: string[] | null;
  owner: string;
  comment: string | null;
  grants: string[];
  indexes: string[];
}

/** A foreign key of another schema's table into a replaced table. */
interface ForeignKey {
  /** Qualified, quoted name of the referencing table. */
  table: string;
  name: string;
  definition: string;
}

/** Views and foreign keys of other schemas built on tables a run replaces. */
export interface Dependents {
  views: DependentView[];
  foreignKeys: ForeignKey[];
}

const KIND_SQL = `case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
  when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end`;

const GRANTS_SQL = (acl: string) =>
  `coalesce((select array_agg(format('grant %s on %s to %s%s', a.privilege_type,
     case when c.relkind = 'S' then 'sequence ' else 'table ' end || '${OBJECT}',
     case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
     case when a.is_grantable then ' with grant option' else '' end) order by a.grantee,
     a.privilege_type) from aclexplode(${acl}) a), '{}')`;

/**
 * Captures what schema `schema` carries over (see the module doc). Call it in the run's
 * transaction before the schema is retired.
 */
export async function captureSchema(tx: Queryable, schema: string): Promise<SchemaState> {
  const [row] = await tx<
    { owner: string; comment: string | null; grants: string[]; defaults: string[] }[]
  >`
    select pg_get_userbyid(n.nspowner) as owner, obj_description(n.oid, 'pg_namespace') as comment,
      coalesce((select array_agg(format('grant %s on schema {object} to %s%s', a.privilege_type,
          case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
          case when a.is_grantable then ' with grant option' else '' end)
        order by a.grantee, a.privilege_type)
        from aclexplode(n.nspacl) a), '{}') as grants,
      coalesce((select array_agg(format(
          'alter default privileges for role %I in schema {object} grant %s on %s to %s%s',
          pg_get_userbyid(d.defaclrole), a.privilege_type,
          case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences'
            when 'f' then 'functions' else 'types' end,
          case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
          case when a.is_grantable then ' with grant option' else '' end))
        from pg_default_acl d cross join aclexplode(d.defaclacl) a
        where d.defaclnamespace = n.oid and d.defaclobjtype in ('r', 'S', 'f', 'T')), '{}')
        as defaults
    from pg_namespace n where n.nspname = ${schema}`;
  if (!row) {
    return {
      schema,
      existed: false,
      owner: null,
      comment: null,
      grants: [],
      defaultPrivileges: [],
      relations: [],
    };
  }
  const relations = await tx.unsafe<RelationState[]>(
    `select c.relname::text as name, ${KIND_SQL} as kind, pg_get_userbyid(c.relowner) as owner,
       obj_description(c.oid, 'pg_class') as comment, ${GRANTS_SQL("c.relacl")} as grants
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')`,
    [schema],
  );
  return {
    schema,
    existed: true,
    owner: row.owner,
    comment: row.comment,
    grants: row.grants,
    defaultPrivileges: row.defaults,
    relations: [...relations],
  };
}

/** Quotes `text` as an SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The statements giving the fresh schema the previous one's owner, grants, comment and default
 * privileges; run them right after creating it, before anything is built in it.
 */
export function schemaStatements(state: SchemaState): string[] {
  if (!state.existed) return [];
  const name = quoteIdent(state.schema);
  return [
    ...(state.owner ? [`alter schema ${name} owner to ${quoteRole(state.owner)}`] : []),
    ...state.grants.map((g) => g.replace(OBJECT, name)),
    ...(state.comment === null ? [] : [`comment on schema ${name} is ${literal(state.comment)}`]),
    ...state.defaultPrivileges.map((g) => g.replace(OBJECT, name)),
  ];
}

/** Quotes a name (of a role, a relation or a constraint), whatever its characters. */
function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a role name. */
const quoteRole = quoteName;

/**
 * Gives each rebuilt relation of `state.schema` its previous namesake's owner, grants and
 * comment (a comment only where the rebuilt one has none: the SQL files' own comments win).
 */
export async function restoreRelations(
  tx: Queryable,
  state: SchemaState,
  run: StatementRun,
): Promise<void> {
  if (!state.existed || state.relations.length === 0) return;
  const rebuilt = await tx<{ name: string; owner: string; commented: boolean }[]>`
    select c.relname::text as name, pg_get_userbyid(c.relowner) as owner,
      obj_description(c.oid, 'pg_class') is not null as commented
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${state.schema} and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')`;
  const now = new Map(rebuilt.map((r) => [r.name, r]));
  for (const old of state.relations) {
    const found = now.get(old.name);
    if (!found) continue;
    const name = `${quoteIdent(state.schema)}.${quoteName(old.name)}`;
    const where = `${old.kind} ${state.schema}.${old.name}`;
    if (found.owner !== old.owner) {
      await run(`alter ${old.kind} ${name} owner to ${quoteRole(old.owner)}`, where);
    }
    for (const grant of old.grants) await run(grant.replace(OBJECT, name), where);
    if (old.comment !== null && !found.commented) {
      await run(`comment on ${old.kind} ${name} is ${literal(old.comment)}`, where);
    }
  }
}

/**
 * Captures the views and materialized views outside `exclude` built (directly or through
 * other views) on the relations of `schemas` (or only `tables` of them, `schema.table`), and
 * the foreign keys of tables outside `exclude` into them. Definitions are fully qualified.
 */
export async function captureDependents(
  tx: Queryable,
  targets: { schemas?: readonly string[]; tables?: readonly string[] },
  options: { exclude: readonly string[] },
): Promise<Dependents> {
  const [path] = await tx<{ path: string }[]>`select current_setting('search_path') as path`;
  await tx`select set_config('search_path', '', true)`;
  try {
    const oids = await tx<{ oid: string }[]>`
      select c.oid::text as oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f')
        and (n.nspname = any(${(targets.schemas ?? []) as string[]}::text[])
          or format('%s.%s', n.nspname, c.relname) = any(${(targets.tables ??
      []) as string[]}::text[]))`;
    const ids = oids.map((o) => o.oid);
    if (ids.length === 0) return { views: [], foreignKeys: [] };
    const views = await tx.unsafe<(DependentView & { depth: number })[]>(
      `with recursive dependents(oid, depth) as (
         select distinct r.ev_class, 1
         from pg_depend d join pg_rewrite r on r.oid = d.objid
         where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
           and d.refobjid = any($1::oid[]) and r.ev_class <> d.refobjid
         union
         select r.ev_class, t.depth + 1
         from dependents t join pg_depend d on d.refobjid = t.oid
           join pg_rewrite r on r.oid = d.objid
         where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
           and r.ev_class <> d.refobjid and t.depth < 50
       ), deepest as (select oid, max(depth) as depth from dependents group by oid)
       select format('%I.%I', n.nspname, c.relname) as name, ${KIND_SQL} as kind,
         pg_get_viewdef(c.oid) as definition, c.reloptions as options,
         quote_ident(pg_get_userbyid(c.relowner)) as owner,
         obj_description(c.oid, 'pg_class') as comment, ${GRANTS_SQL("c.relacl")} as grants,
         coalesce((select array_agg(pg_get_indexdef(i.indexrelid)) from pg_index i
           where i.indrelid = c.oid), '{}') as indexes, t.depth
       from deepest t join pg_class c on c.oid = t.oid
         join pg_namespace n on n.oid = c.relnamespace
       where n.nspname <> all($2::text[]) and n.nspname not like 'lml\\_retired\\_%'
       order by t.depth, 1`,
      [ids, options.exclude as string[]],
    );
    const foreignKeys = await tx.unsafe<ForeignKey[]>(
      `select format('%I.%I', n.nspname, c.relname) as table, k.conname::text as name,
         pg_get_constraintdef(k.oid) as definition
       from pg_constraint k join pg_class c on c.oid = k.conrelid
         join pg_namespace n on n.oid = c.relnamespace
       where k.contype = 'f' and k.confrelid = any($1::oid[])
         and n.nspname <> all($2::text[]) and n.nspname not like 'lml\\_retired\\_%'
       order by 1, 2`,
      [ids, options.exclude as string[]],
    );
    return { views: [...views], foreignKeys: [...foreignKeys] };
  } finally {
    await tx`select set_config('search_path', ${path!.path}, true)`;
  }
}

/**
 * Recreates captured dependents on the rebuilt tables (views replaced in place where their
 * columns allow, else dropped and created; materialized views created again, so refreshed),
 * with their owner, grants, comments and indexes, and adds the foreign keys again. A statement
 * that fails rejects through `run`, which names the object.
 */
export async function restoreDependents(
  tx: postgres.TransactionSql,
  dependents: Dependents,
  run: StatementRun,
): Promise<void> {
  for (const fk of dependents.foreignKeys) {
    await run(
      `alter table ${fk.table} drop constraint ${quoteName(fk.name)}`,
      `foreign key ${fk.name} of ${fk.table}`,
    );
  }
  for (const view of dependents.views) {
    const where = `${view.kind} ${view.name}`;
    const options = view.options?.length ? ` with (${view.options.join(", ")})` : "";
    const body = view.definition.replace(/;\s*$/, "");
    const create = `create ${view.kind} ${view.name}${options} as ${body}`;
    let replaced = false;
    if (view.kind === "view") {
      replaced = await tx.savepoint((sp) =>
        sp.unsafe(`create or replace view ${view.name}${options} as ${body}`)
      ).then(() => true, () => false);
    }
    if (!replaced) {
      await run(`drop ${view.kind} ${view.name} cascade`, where);
      await run(create, where);
      for (const index of view.indexes) await run(index, where);
      await run(`alter ${view.kind} ${view.name} owner to ${view.owner}`, where);
      for (const grant of view.grants) {
        await run(grant.replace(OBJECT, view.name), where);
      }
      if (view.comment !== null) {
        await run(`comment on ${view.kind} ${view.name} is ${literal(view.comment)}`, where);
      }
    }
  }
  for (const fk of dependents.foreignKeys) {
    await run(
      `alter table ${fk.table} add constraint ${quoteName(fk.name)} ${fk.definition}`,
      `foreign key ${fk.name} of ${fk.table}`,
    );
  }
}

/** A retired schema's name for `schema` in run `runId` (at most 63 bytes). */
export function retiredName(schema: string, runId: string): string {
  let hash = 0;
  for (const ch of runId) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) >>> 0;
  return `${RETIRED_PREFIX}${hash.toString(36)}_${schema}`.slice(0, 63);
}

/**
 * Replaces schema `schema` with a fresh, empty one inside transaction `tx`: the previous one
 * is renamed to its retired name (marked for dropping after COMMIT) and the fresh one gets the
 * previous one's owner, grants, comment and default privileges. Returns the captured state,
 * for {@linkcode restoreRelations} at the end of the transaction.
 */
export async function replaceSchema(
  tx: Queryable,
  schema: string,
  options: { runId: string; metaSchema: string; run: StatementRun },
): Promise<SchemaState> {
  const state = await captureSchema(tx, schema);
  const name = quoteIdent(schema);
  const meta = quoteIdent(options.metaSchema);
  if (state.existed) {
    const retired = retiredName(schema, options.runId);
    await options.run(`drop schema if exists ${quoteIdent(retired)} cascade`, `schema ${retired}`);
    await options.run(
      `alter schema ${name} rename to ${quoteIdent(retired)}`,
      `schema ${schema} (retire)`,
    );
    await options.run(
      `insert into ${meta}.owned_schemas (schema_name, role, run_id)
       values (${literal(retired)}, 'retired', ${literal(options.runId)})
       on conflict (schema_name) do update set role = 'retired'`,
      `schema ${retired}`,
    );
  }
  await options.run(`create schema ${name}`, `schema ${schema} (create)`);
  await markSchemas(tx, [schema], { metaSchema: options.metaSchema, runId: options.runId });
  for (const statement of schemaStatements(state)) {
    await options.run(statement, `schema ${schema} (privileges)`);
  }
  return state;
}

/** Records `schemas` as the toolkit's own (role published, or the one given). */
export async function markSchemas(
  sql: Queryable,
  schemas: readonly string[],
  options: { metaSchema: string; runId?: string; role?: "published" | "staging" },
): Promise<void> {
  for (const schema of schemas) {
    await sql`
      insert into ${sql(options.metaSchema)}.owned_schemas (schema_name, role, run_id)
      values (${schema}, ${options.role ?? "published"}, ${options.runId ?? null})
      on conflict (schema_name) do nothing`;
  }
}

/**
 * Refuses (ConfigError) to manage any of `schemas` that is `public`, PostgreSQL's own, or an
 * existing schema the toolkit did not create. A schema of an earlier version (before schemas
 * were marked) is adopted when a successful run of the ledger rebuilt it, or for the raw and
 * helpers' schemas when any run succeeded.
 */
export async function guardSchemas(
  sql: Sql,
  schemas: readonly string[],
  options: { metaSchema: string; rawSchema: string; utilSchema: string; file: string },
): Promise<void> {
  for (const schema of schemas) {
    if (reservedSchema(schema)) {
      throw new ConfigError(`schema "${schema}" belongs to PostgreSQL; refusing to manage it`, {
        file: options.file,
        hint: "name a schema of its own in sql/pipeline.yaml",
      });
    }
  }
  const meta = sql(options.metaSchema);
  const [ledger] = await sql<{ ok: boolean }[]>`
    select to_regclass(${`${quoteIdent(options.metaSchema)}.owned_schemas`}) is not null as ok`;
  if (!ledger?.ok) {
    const [found] = await sql<{ schema: string }[]>`
      select nspname::text as schema from pg_namespace
      where nspname = any(${schemas as string[]}::text[]) order by 1 limit 1`;
    if (found) throw notOurs(found.schema, options.file);
    return;
  }
  const foreign = await sql<{ schema: string }[]>`
    select n.nspname::text as schema from pg_namespace n
    where n.nspname = any(${schemas as string[]}::text[])
      and not exists (select from ${meta}.owned_schemas o where o.schema_name = n.nspname)`;
  for (const { schema } of foreign) {
    const [adopt] = await sql<{ ok: boolean }[]>`
      select exists (
        select from ${meta}.runs r
        where r.status = 'succeeded' and r.command in ('transform', 'refresh')
          and (${schema}::text = any(r.selected)
            or ${schema}::text in (${options.rawSchema}::text, ${options.utilSchema}::text))
      ) or (${schema}::text = ${options.rawSchema}::text
        and exists (select from ${meta}.extract_log e where e.status = 'succeeded')) as ok`;
    if (!adopt?.ok) throw notOurs(schema, options.file);
    await markSchemas(sql, [schema], { metaSchema: options.metaSchema });
  }
}

/** The error refusing schema `schema`, which the toolkit did not create. */
function notOurs(schema: string, file: string): ConfigError {
  return new ConfigError(
    `schema "${schema}" exists and was not created by this toolkit; refusing to manage it ` +
      `(a run replaces its schemas)`,
    {
      file,
      hint: `name another schema in sql/pipeline.yaml, or rename or drop "${schema}" ` +
        `yourself if it is a leftover of this toolkit`,
    },
  );
}

/**
 * Drops the retired schemas (the previous data of committed runs), each in a short
 * transaction that gives way after `lockTimeoutMs` to a reader still using an old table; what
 * cannot be dropped now is left to the next run. Never rejects.
 */
export async function dropRetired(
  sql: Sql,
  options: { metaSchema: string; lockTimeoutMs?: number; attempts?: number; logger?: Logger },
): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const meta = sql(options.metaSchema);
  let retired: { schema: string }[];
  try {
    retired = await sql<{ schema: string }[]>`
      select schema_name as schema from ${meta}.owned_schemas where role = 'retired'`;
  } catch {
    return;
  }
  for (const { schema } of retired) {
    const attempts = options.attempts ?? 5;
    for (let attempt = 1;; attempt++) {
      try {
        await sql.begin(async (tx) => {
          await tx`select set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 200}ms`}, true)`;
          await tx`drop schema if exists ${tx(schema)} cascade`;
          await tx`delete from ${
            tx(options.metaSchema)
          }.owned_schemas where schema_name = ${schema}`;
        });
        break;
      } catch (error) {
        if (attempt >= attempts || (error as { code?: string }).code !== "55P03") {
          logger.warn(
            `previous data in schema ${schema} not dropped yet (${
              (error as Error).message
            }); the next run drops it`,
          );
          break;
        }
        await pause(200 * attempt);
      }
    }
  }
}
