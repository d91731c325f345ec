/**
 * lml_listbuilder_mesa4core: UI list configurations with 3-10 columns, MongoDB-operator filters
 * kept verbatim, a default sort and 1-4 visible role names (5% list one twice). Every 67th
 * document (0, 67, 134, ...) has a readable string `_id` instead of an ObjectId: nothing refers
 * to lists, so it is harmless.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc } from "./common.ts";
import { drawRole, roleName } from "./catalogs.ts";

const COLLECTION = "lml_listbuilder_mesa4core";

const LISTS: readonly { name: string; slug: string; entity: string }[] = [
  { name: "Trámites pendientes", slug: "tramites-pendientes", entity: "processes" },
  { name: "Trámites finalizados", slug: "tramites-finalizados", entity: "processes" },
  { name: "Mis trámites", slug: "mis-tramites", entity: "processes" },
  { name: "Personas físicas", slug: "personas-fisicas", entity: "people" },
  { name: "Personas jurídicas", slug: "personas-juridicas", entity: "people" },
  { name: "Usuarios activos", slug: "usuarios-activos", entity: "users" },
  { name: "Tipos de trámite", slug: "tipos-tramite", entity: "processtypes" },
  { name: "Bandeja del área", slug: "bandeja-area", entity: "processes" },
];

const COLUMNS: readonly { field: string; label: string; type: string }[] = [
  { field: "processNumber", label: "N°", type: "text" },
  { field: "subject", label: "Asunto", type: "text" },
  { field: "status", label: "Estado", type: "badge" },
  { field: "createdAt", label: "Fecha de creación", type: "date" },
  { field: "applicant.fullName", label: "Solicitante", type: "text" },
  { field: "currentArea.name", label: "Área actual", type: "text" },
  { field: "assignedTo.username", label: "Asignado a", type: "text" },
  { field: "processType.name", label: "Tipo de trámite", type: "text" },
  { field: "year", label: "Año", type: "number" },
  { field: "updatedAt", label: "Última modificación", type: "datetime" },
];

/** Whether document `index` has a string `_id`. */
export function hasStringId(index: number): boolean {
  return index % 67 === 0;
}

/** Document `index` of lml_listbuilder_mesa4core. */
export function buildList(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const list = LISTS[index % LISTS.length]!;
  const columns = rng.sample(COLUMNS.length, rng.int(3, 10)).map((c) => {
    const column = COLUMNS[c]!;
    const format: Doc = { type: column.type };
    if (column.type === "date") format.pattern = "dd/MM/yyyy";
    if (column.type === "badge") format.colors = { iniciado: "gris", en_tramite: "azul" };
    return {
      field: column.field,
      label: column.label,
      width: rng.pick([80, 120, 160, 240]),
      sortable: rng.chance(0.7),
      format,
    };
  });
  const filters: Doc = rng.chance(0.6)
    ? {
      status: { $in: rng.chance(0.5) ? ["iniciado", "en_tramite"] : ["finalizado", "archivado"] },
    }
    : { createdAt: { $gte: "2022-01-01" }, deleted: { $ne: true } };
  if (rng.chance(0.3)) filters.year = { $gte: 2020, $lte: 2024 };
  const roles = [...new Set(Array.from({ length: rng.int(1, 4) }, () => drawRole(rng)))];
  const visibleToRoles = roles.map((role) => roleName(rng, role));
  if (rng.chance(0.05)) visibleToRoles.push(visibleToRoles[0]!);
  return appendAudit(
    plan,
    rng,
    COLLECTION,
    index,
    {
      _id: hasStringId(index) ? `lista-${list.slug}-${index}` : documentId(plan, COLLECTION, index),
      name: index < LISTS.length ? list.name : `${list.name} (${index})`,
      entity: list.entity,
      columns,
      filters,
      defaultSort: {
        field: rng.pick(["createdAt", "updatedAt", "processNumber"]),
        direction: rng.pick([1, -1]),
      },
      visibleToRoles,
    },
    times,
    { updatedByRate: 0.5 },
  );
}
