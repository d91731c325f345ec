/**
 * End to end on hand-picked documents of every collection: raw relaxed Extended JSON in,
 * the final columns of the seven schemas out (ghosts, catalogs, duplicates, dangling refs).
 */
import assert from "node:assert/strict";
import { freshDatabase } from "../support/db.ts";
import { loadRaw, type RawDocuments, transformAll } from "../support/pipeline.ts";

const oid = (hex: string) => ({ $oid: hex });
const date = (iso: string) => ({ $date: iso });

const U1 = "62a0f1c2e4b0a1b2c3d40001";
const U2 = "62a0f1c2e4b0a1b2c3d40002";
const GHOST = "5a0000000000000000000abc";
const R1 = "62a0f1c2e4b0a1b2c3d4a001";
const A1 = "62a0f1c2e4b0a1b2c3d4b001";
const A2 = "62a0f1c2e4b0a1b2c3d4b002";
const G1 = "63000000000000000000a001";
const F1 = "64000000000000000000f001";
const T1 = "65000000000000000000c001";
const P1 = "66000000000000000000d001";
const P2 = "66000000000000000000d002";
const P3 = "66000000000000000000d003";
const MISSING_PERSON = "66000000000000000000dfff";
const X1 = "67000000000000000000e001";
const X2 = "67000000000000000000e002";

const DOCUMENTS: RawDocuments = {
  lml_users_mesa4core: [
    {
      _id: oid(U1),
      username: "jperez",
      email: "  JPerez@Mesa.gob.ar ",
      firstName: "Juan",
      lastName: "Pérez",
      dni: "20.123.456",
      roles: [{ _id: oid(R1), name: "ADMIN", description: "Administrador" }],
      areas: [{ _id: oid(A1), name: "Mesa de Entradas", code: "MDE" }],
      active: "si",
      deleted: "false",
      lastLogin: "N/A",
      settings: { theme: "dark" },
      createdAt: date("2022-03-01T12:00:00.000Z"),
      updatedAt: "2023-01-10 09:00:00",
      createdBy: { _id: GHOST.toUpperCase(), username: "old.admin", firstName: "Viejo" },
      updatedBy: { username: "sin.id" },
    },
    {
      _id: oid(U2),
      username: "mgomez",
      roles: [{ _id: oid(R1), name: "ADMINISTRADOR" }],
      areas: [{ _id: oid(A1), name: "Mesa Entradas (vieja)" }, {
        _id: oid(A2),
        name: "Comercio viejo",
      }],
      deleted: 1,
      updatedAt: { $date: { $numberLong: "1640995200000" } },
      createdBy: { _id: oid(U1), username: "jperez" },
    },
  ],
  lml_usersgroups_mesa4core: [
    {
      _id: oid(G1),
      name: "Supervisores",
      owner: { _id: oid(U2), username: "mgomez" },
      members: [
        { _id: oid(U1), username: "jperez", addedAt: date("2022-05-02T00:00:00.000Z") },
        { _id: U1, username: "jperez", addedAt: "2022-05-01T00:00:00Z" },
        { username: "sin.id", addedAt: "" },
      ],
      createdAt: 1651363200000,
    },
  ],
  lml_formbuilder_mesa4core: [
    {
      _id: oid(F1),
      name: "Solicitud de habilitación",
      version: 3,
      status: "published",
      fields: [
        { key: "razonSocial", label: "Razón social", type: "text", required: true, order: 1 },
        {
          key: "rubro",
          label: "Rubro",
          type: "select",
          required: "false",
          order: 2,
          options: [{ value: "gastro", label: "Gastronomía" }, {
            value: "retail",
            label: "Comercio",
          }],
        },
      ],
      layout: { columns: 2 },
    },
  ],
  lml_processtypes_mesa4core: [
    {
      _id: oid(T1),
      name: "Habilitación comercial",
      code: "HAB-COM",
      form: { _id: oid(F1), name: "Solicitud" },
      area: { _id: oid(A2), name: "Comercio (2023)" },
      steps: [{ order: 1, name: "Recepción", area: { _id: oid(A1), name: "Mesa" }, slaDays: 5 }],
      active: true,
      updatedAt: date("2023-06-01T00:00:00.000Z"),
    },
  ],
  lml_listbuilder_mesa4core: [
    {
      _id: "lista-pendientes",
      name: "Trámites pendientes",
      entity: "processes",
      columns: [{
        field: "processNumber",
        label: "N°",
        width: 120,
        sortable: true,
        format: { type: "text" },
      }],
      filters: { status: { $in: ["iniciado", "en_tramite"] } },
      defaultSort: { field: "createdAt", direction: -1 },
      visibleToRoles: ["ADMIN", "OPERADOR", "ADMIN"],
      createdAt: "0000-00-00",
    },
  ],
  lml_people_mesa4core: [
    {
      _id: oid(P1),
      personType: "physical",
      firstName: "Ana",
      lastName: "López",
      documentType: "DNI",
      documentNumber: "30.123.456",
      birthDate: date("1985-07-12T00:00:00.000Z"),
      emails: ["Ana@Example.com ", { address: "ana@example.com", primary: true }, {
        address: "OTRA@example.com",
        primary: false,
      }],
      phones: [{ type: "mobile", number: "+54 9 11 5555-1234" }],
      addresses: [{
        street: "Av. Siempreviva",
        number: "742",
        city: "Córdoba",
        postalCode: "X5000",
        primary: "true",
      }],
    },
    {
      _id: oid(P2),
      personType: "juridical",
      businessName: "Panadería Ana SRL",
      documentType: "CUIT",
      documentNumber: "30-71234567-9",
      legalRepresentative: { _id: oid(P1), fullName: "Ana López", documentNumber: "30123456" },
      emails: [{ address: "info@panaderia.com.ar", primary: true }],
    },
    {
      _id: oid(P3),
      personType: "juridical",
      businessName: "Sin Representante SA",
      documentNumber: "30712345679",
      legalRepresentative: { _id: oid(MISSING_PERSON), fullName: "Nadie" },
    },
  ],
  lml_processes_mesa4core: [
    {
      _id: oid(X1),
      processNumber: "EXP-2024-000001",
      year: 2024,
      processType: { _id: oid(T1), name: "Habilitación comercial", code: "HAB-COM" },
      status: "en_tramite",
      subject: "Habilitación local",
      applicant: { _id: oid(P1), fullName: "Ana López" },
      currentArea: { _id: oid(A2), name: "Comercio" },
      assignedTo: null,
      formData: { razonSocial: "Panadería Ana", superficie: 85.5 },
      movements: [
        {
          from: { _id: oid(A1), name: "Mesa de Entradas" },
          to: { _id: oid(A2), name: "Comercio" },
          at: date("2024-01-02T10:00:00.000Z"),
          by: { _id: oid(U1), username: "jperez" },
          note: "Pase a Comercio",
        },
        {
          from: { _id: oid(A2), name: "Comercio" },
          to: { _id: oid(A1), name: "Mesa de Entradas" },
          at: "N/A",
          by: { username: "x" },
        },
      ],
      attachments: [{
        name: "plano.pdf",
        size: 183422,
        mimeType: "application/pdf",
        uploadedAt: "2024-01-02T07:00:00-03:00",
        uploadedBy: { _id: GHOST, username: "a.ghost" },
      }],
      deleted: false,
      createdAt: date("2024-01-01T00:00:00.000Z"),
      updatedAt: date("2024-02-01T00:00:00.000Z"),
      createdBy: {
        _id: oid(GHOST),
        username: "admin.viejo",
        firstName: "Carlos",
        lastName: "Ruiz",
        email: "CRUIZ@mesa.gob.ar",
      },
    },
    {
      _id: oid(X2),
      processNumber: "EXP-2020-000002",
      processType: { _id: oid("65000000000000000000cfff"), name: "Tipo borrado" },
      status: "archivado",
      applicant: { _id: oid(MISSING_PERSON), fullName: "Nadie", documentNumber: "1" },
      deleted: "true",
    },
  ],
};

Deno.test({
  name: "transforms turn hand-picked documents of every collection into the expected rows",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using db = await freshDatabase();
    const sql = db.sql;
    await loadRaw(sql, DOCUMENTS);
    await transformAll(sql);

    const users = await sql`
      select user_id, username, email, document_number, document_number_raw, is_active,
        is_deleted, is_ghost, first_name, last_name, created_by_user_id, updated_by_user_id,
        last_login_at, created_at, updated_at
      from lml_users.main order by user_id`;
    const byId = new Map(users.map((u) => [u.user_id, u]));
    assert.equal(users.length, 3);
    const jperez = byId.get(U1)!;
    assert.equal(jperez.email, "jperez@mesa.gob.ar");
    assert.equal(jperez.document_number, "20123456");
    assert.equal(jperez.document_number_raw, "20.123.456");
    assert.equal(jperez.is_active, true);
    assert.equal(jperez.is_deleted, false);
    assert.equal(jperez.created_by_user_id, GHOST);
    assert.equal(jperez.updated_by_user_id, null);
    assert.equal(jperez.last_login_at, null);
    assert.equal(jperez.updated_at.toISOString(), "2023-01-10T09:00:00.000Z");
    const mgomez = byId.get(U2)!;
    assert.equal(mgomez.is_deleted, true);
    // No createdAt: the ObjectId time; updatedAt as {"$date": {"$numberLong"}}.
    assert.equal(mgomez.created_at.toISOString(), new Date(0x62a0f1c2 * 1000).toISOString());
    assert.equal(mgomez.updated_at.toISOString(), "2022-01-01T00:00:00.000Z");
    // The ghost takes the fields of its most recent snapshot (the 2024 process; within it the
    // greatest username wins the tie with the attachment's "a.ghost").
    const ghost = byId.get(GHOST)!;
    assert.deepEqual(
      [
        ghost.is_ghost,
        ghost.is_deleted,
        ghost.username,
        ghost.first_name,
        ghost.last_name,
        ghost.email,
      ],
      [true, true, "admin.viejo", "Carlos", "Ruiz", "cruiz@mesa.gob.ar"],
    );

    // Catalogs: the copy in the most recently updated document wins.
    const roles = await sql`select role_id, name, description from lml_users.roles`;
    assert.deepEqual(roles.map((r) => ({ ...r })), [{
      role_id: R1,
      name: "ADMIN",
      description: "Administrador",
    }]);
    const areas = await sql`select area_id, name, code from lml_users.areas order by area_id`;
    assert.deepEqual(areas.map((r) => ({ ...r })), [
      { area_id: A1, name: "Mesa de Entradas", code: "MDE" },
      { area_id: A2, name: "Comercio", code: null },
    ]);
    assert.equal((await sql`select count(*)::int as n from lml_users.user_areas`)[0]!.n, 3);

    // Groups: the duplicate member collapses to its earliest addedAt; the one without _id is counted.
    const members = await sql`select user_id, added_at, position from lml_usersgroups.members`;
    assert.deepEqual(
      members.map((m) => [m.user_id, m.added_at.toISOString(), m.position]),
      [[U1, "2022-05-01T00:00:00.000Z", 2]],
    );
    const [group] = await sql`select owner_user_id, created_at from lml_usersgroups.main`;
    assert.equal(group!.owner_user_id, U2);
    assert.equal(group!.created_at.toISOString(), "2022-05-01T00:00:00.000Z");
    const groupProblems = await sql`
      select 'unresolvable' as kind, path from lml_usersgroups.unresolvable_snapshots
      union all select 'garbage', path from lml_usersgroups.unmapped_values`;
    assert.deepEqual(groupProblems.map((r) => [r.kind, r.path]).sort(), [
      ["garbage", "members.addedAt"],
      ["unresolvable", "members"],
    ]);

    // Forms, fields and options.
    const fields = await sql`
      select f.field_key, f.type, f.is_required, f.sort_order, count(o.position)::int as options
      from lml_formbuilder.fields as f
      left join lml_formbuilder.field_options as o
        on o.form_id = f.form_id and o.field_position = f.position
      group by 1, 2, 3, 4 order by f.sort_order`;
    assert.deepEqual(fields.map((r) => ({ ...r })), [
      { field_key: "razonSocial", type: "text", is_required: true, sort_order: 1, options: 0 },
      { field_key: "rubro", type: "select", is_required: false, sort_order: 2, options: 2 },
    ]);

    // Process types: FK to the form, area and step areas in the catalog.
    const [type] =
      await sql`select form_id, form_ref, area_id, is_active from lml_processtypes.main`;
    assert.deepEqual({ ...type }, { form_id: F1, form_ref: null, area_id: A2, is_active: true });
    const [step] = await sql`select area_id, sla_days from lml_processtypes.steps`;
    assert.deepEqual({ ...step }, { area_id: A1, sla_days: 5 });

    // Lists: string _id, filters verbatim, role names resolved to the catalog, garbage createdAt.
    const [list] = await sql`
      select list_id, filters, default_sort_field, default_sort_direction, created_at
      from lml_listbuilder.main`;
    assert.deepEqual({ ...list }, {
      list_id: "lista-pendientes",
      filters: { status: { $in: ["iniciado", "en_tramite"] } },
      default_sort_field: "createdAt",
      default_sort_direction: -1,
      created_at: null,
    });
    const visible =
      await sql`select role_name, role_id from lml_listbuilder.visible_roles order by role_name`;
    assert.deepEqual(visible.map((r) => [r.role_name, r.role_id]), [["ADMIN", R1], [
      "OPERADOR",
      null,
    ]]);

    // People: both email shapes, digits, the juridical person's representative, a dangling one.
    const emails =
      await sql`select email, is_primary from lml_people.emails where person_id = ${P1} order by email`;
    assert.deepEqual(emails.map((e) => [e.email, e.is_primary]), [
      ["ana@example.com", true],
      ["otra@example.com", false],
    ]);
    const people = await sql`
      select person_id, person_type, document_number, document_number_raw, birth_date::text,
        legal_representative_person_id, legal_representative_ref
      from lml_people.main order by person_id`;
    assert.deepEqual(people.map((p) => ({ ...p })), [
      {
        person_id: P1,
        person_type: "physical",
        document_number: "30123456",
        document_number_raw: "30.123.456",
        birth_date: "1985-07-12",
        legal_representative_person_id: null,
        legal_representative_ref: null,
      },
      {
        person_id: P2,
        person_type: "juridical",
        document_number: "30712345679",
        document_number_raw: "30-71234567-9",
        birth_date: null,
        legal_representative_person_id: P1,
        legal_representative_ref: null,
      },
      {
        person_id: P3,
        person_type: "juridical",
        document_number: "30712345679",
        document_number_raw: "30712345679",
        birth_date: null,
        legal_representative_person_id: null,
        legal_representative_ref: { _id: { $oid: MISSING_PERSON }, fullName: "Nadie" },
      },
    ]);

    // Processes: resolved and dangling references, movements, attachments.
    const processes = await sql`
      select process_id, process_type_id, process_type_ref, applicant_person_id, applicant_ref,
        current_area_id, assigned_user_id, created_by_user_id, is_deleted, form_data
      from lml_processes.main order by process_id`;
    assert.deepEqual(processes.map((p) => ({ ...p })), [
      {
        process_id: X1,
        process_type_id: T1,
        process_type_ref: null,
        applicant_person_id: P1,
        applicant_ref: null,
        current_area_id: A2,
        assigned_user_id: null,
        created_by_user_id: GHOST,
        is_deleted: false,
        form_data: { razonSocial: "Panadería Ana", superficie: 85.5 },
      },
      {
        process_id: X2,
        process_type_id: null,
        process_type_ref: { _id: { $oid: "65000000000000000000cfff" }, name: "Tipo borrado" },
        applicant_person_id: null,
        applicant_ref: { _id: { $oid: MISSING_PERSON }, fullName: "Nadie", documentNumber: "1" },
        current_area_id: null,
        assigned_user_id: null,
        created_by_user_id: null,
        is_deleted: true,
        form_data: null,
      },
    ]);
    const movements = await sql`
      select position, from_area_id, to_area_id, moved_at, moved_by_user_id, note
      from lml_processes.movements order by position`;
    assert.deepEqual(
      movements.map((
        m,
      ) => [
        m.position,
        m.from_area_id,
        m.to_area_id,
        m.moved_at?.toISOString() ?? null,
        m.moved_by_user_id,
      ]),
      [
        [1, A1, A2, "2024-01-02T10:00:00.000Z", U1],
        [2, A2, A1, null, null],
      ],
    );
    const [attachment] = await sql`
      select size_bytes, uploaded_at, uploaded_by_user_id from lml_processes.attachments`;
    assert.deepEqual(
      [
        attachment!.size_bytes,
        attachment!.uploaded_at.toISOString(),
        attachment!.uploaded_by_user_id,
      ],
      ["183422", "2024-01-02T10:00:00.000Z", GHOST],
    );
    const processProblems = await sql`
      select 'unresolvable' as kind, path from lml_processes.unresolvable_snapshots
      union all select 'garbage', path from lml_processes.unmapped_values`;
    assert.deepEqual(processProblems.map((r) => [r.kind, r.path]).sort(), [
      ["garbage", "movements.at"],
      ["unresolvable", "movements.by"],
    ]);
  },
});
