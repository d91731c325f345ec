/**
 * Spanish (Argentine) vocabulary for realistic, non-ASCII text: names, places, areas, roles.
 * @module
 */

/** Given names. */
export const FIRST_NAMES: readonly string[] = [
  "Juan",
  "María",
  "José",
  "Ana",
  "Lucía",
  "Martín",
  "Sofía",
  "Agustín",
  "Valentina",
  "Julián",
  "Camila",
  "Matías",
  "Florencia",
  "Nicolás",
  "Paula",
  "Ramón",
  "Inés",
  "Andrés",
  "Mónica",
  "Héctor",
  "Verónica",
  "Sebastián",
  "Belén",
  "Joaquín",
  "Noelia",
  "Tomás",
  "Rocío",
  "Germán",
  "Débora",
  "Íñigo",
  "Azucena",
  "Efraín",
  "Zoé",
  "Raúl",
  "Lourdes",
  "Hernán",
  "Dolores",
  "Óscar",
];

/** Family names. */
export const LAST_NAMES: readonly string[] = [
  "Pérez",
  "González",
  "Rodríguez",
  "Fernández",
  "López",
  "Martínez",
  "García",
  "Gómez",
  "Díaz",
  "Sánchez",
  "Romero",
  "Álvarez",
  "Torres",
  "Ruiz",
  "Ramírez",
  "Flores",
  "Benítez",
  "Acosta",
  "Medina",
  "Suárez",
  "Núñez",
  "Ibáñez",
  "Peña",
  "Muñoz",
  "Giménez",
  "Domínguez",
  "Vázquez",
  "Ortíz",
  "Castaño",
  "Echeverría",
  "Quiroga",
  "Villagrán",
  "Zúñiga",
  "Ledesma",
  "Cáceres",
];

/** Cities, mostly in Córdoba. */
export const CITIES: readonly string[] = [
  "Córdoba",
  "Río Cuarto",
  "Villa María",
  "San Francisco",
  "Alta Gracia",
  "Jesús María",
  "Villa Carlos Paz",
  "Río Tercero",
  "Bell Ville",
  "Marcos Juárez",
  "Cosquín",
  "La Falda",
];

/** Provinces. */
export const PROVINCES: readonly string[] = [
  "Córdoba",
  "Córdoba",
  "Córdoba",
  "Santa Fe",
  "Buenos Aires",
  "Mendoza",
  "Tucumán",
  "Entre Ríos",
  "Neuquén",
];

/** Streets. */
export const STREETS: readonly string[] = [
  "Av. Colón",
  "Bv. San Juan",
  "Av. Vélez Sarsfield",
  "Deán Funes",
  "Ituzaingó",
  "27 de Abril",
  "Av. Hipólito Yrigoyen",
  "Obispo Trejo",
  "Av. Rafael Núñez",
  "La Cañada",
  "Av. Olmos",
  "Av. Sabattini",
  "Bv. Chacabuco",
  "Av. Fuerza Aérea",
  "Pje. Güemes",
  "Av. Siempreviva",
];

/** Company name stems and suffixes. */
export const COMPANY_STEMS: readonly string[] = [
  "Panadería",
  "Ferretería",
  "Construcciones",
  "Distribuidora",
  "Gastronomía",
  "Logística",
  "Farmacia",
  "Librería",
  "Agropecuaria",
  "Metalúrgica",
  "Óptica",
  "Carnicería",
  "Estudio Jurídico",
];
/** Company legal forms. */
export const COMPANY_FORMS: readonly string[] = ["S.A.", "S.R.L.", "S.A.S.", "y Cía.", ""];

/** Role catalog: for each role, the names its copies carry (renamed over time). */
export const ROLE_NAMES: readonly (readonly string[])[] = [
  ["ADMIN", "Administrador", "ADMINISTRADOR"],
  ["OPERADOR", "Operador", "Operador de Mesa"],
  ["SUPERVISOR", "Supervisor", "Supervisión"],
  ["MESA_ENTRADAS", "Mesa de Entradas", "Recepción"],
  ["CONSULTA", "Consulta", "Sólo lectura"],
  ["AUDITOR", "Auditor", "Auditoría"],
  ["JEFE_AREA", "Jefe de Área", "Jefatura"],
  ["INSPECTOR", "Inspector", "Inspección"],
  ["LEGALES", "Asesoría Letrada", "Legales"],
  ["TESORERIA", "Tesorería", "Caja"],
  ["DESPACHO", "Despacho", "Mesa de Despacho"],
  ["SISTEMAS", "Sistemas", "Informática"],
];

/** Area catalog: name variants (renamed over time) and a code. */
export const AREAS: readonly { names: readonly string[]; code: string }[] = [
  {
    names: ["Mesa de Entradas", "Mesa General de Entradas", "Mesa de Entradas y Salidas"],
    code: "MDE",
  },
  { names: ["Comercio", "Dirección de Comercio", "Comercio e Industria"], code: "COM" },
  { names: ["Obras Privadas", "Dirección de Obras Privadas", "Obras Particulares"], code: "OBP" },
  { names: ["Catastro", "Dirección de Catastro", "Catastro Municipal"], code: "CAT" },
  { names: ["Rentas", "Dirección de Rentas", "Recursos Tributarios"], code: "REN" },
  { names: ["Asesoría Letrada", "Asuntos Legales", "Dirección de Asuntos Jurídicos"], code: "ALE" },
  { names: ["Despacho", "Despacho General", "Secretaría de Despacho"], code: "DES" },
  { names: ["Tránsito", "Dirección de Tránsito", "Tránsito y Transporte"], code: "TRA" },
  { names: ["Bromatología", "Control Bromatológico", "Bromatología e Higiene"], code: "BRO" },
  { names: ["Medio Ambiente", "Ambiente", "Gestión Ambiental"], code: "AMB" },
  { names: ["Recursos Humanos", "Personal", "Gestión de Personas"], code: "RRH" },
  { names: ["Tesorería", "Tesorería General", "Caja Central"], code: "TES" },
  { names: ["Contaduría", "Contaduría General", "Contabilidad"], code: "CON" },
  { names: ["Secretaría de Gobierno", "Gobierno", "Secretaría General"], code: "GOB" },
  {
    names: ["Habilitaciones", "Habilitación de Negocios", "Habilitaciones Comerciales"],
    code: "HAB",
  },
  { names: ["Inspección General", "Inspecciones", "Control Urbano"], code: "INS" },
  { names: ["Archivo", "Archivo General", "Archivo Histórico"], code: "ARC" },
  { names: ["Compras", "Compras y Contrataciones", "Suministros"], code: "CMP" },
  { names: ["Intendencia", "Privada de Intendencia", "Jefatura de Gabinete"], code: "INT" },
  { names: ["Cultura", "Secretaría de Cultura", "Cultura y Educación"], code: "CUL" },
  { names: ["Deportes", "Dirección de Deportes", "Deportes y Recreación"], code: "DEP" },
  { names: ["Desarrollo Social", "Acción Social", "Promoción Social"], code: "SOC" },
  { names: ["Salud", "Secretaría de Salud", "Atención Primaria"], code: "SAL" },
  { names: ["Educación", "Dirección de Educación", "Escuelas Municipales"], code: "EDU" },
  { names: ["Informática", "Sistemas", "Modernización"], code: "INF" },
  { names: ["Turismo", "Dirección de Turismo", "Turismo y Eventos"], code: "TUR" },
  { names: ["Defensa Civil", "Protección Civil", "Emergencias"], code: "DCV" },
  { names: ["Espacios Verdes", "Parques y Paseos", "Arbolado Urbano"], code: "ESV" },
  { names: ["Alumbrado Público", "Alumbrado", "Energía y Alumbrado"], code: "ALU" },
  {
    names: ["Juzgado de Faltas", "Tribunal de Faltas", "Justicia Administrativa de Faltas"],
    code: "JDF",
  },
];

/** Process type names and codes (a code stem; codes get a numeric suffix to stay unique). */
export const PROCESS_TYPES: readonly { name: string; code: string }[] = [
  { name: "Habilitación comercial", code: "HAB-COM" },
  { name: "Permiso de obra", code: "PER-OBR" },
  { name: "Reclamo en vía pública", code: "REC-VIA" },
  { name: "Solicitud de poda", code: "SOL-POD" },
  { name: "Certificado de libre deuda", code: "CER-LDE" },
  { name: "Licencia de conducir", code: "LIC-CON" },
  { name: "Denuncia ambiental", code: "DEN-AMB" },
  { name: "Subsidio por emergencia", code: "SUB-EME" },
  { name: "Inscripción de proveedor", code: "INS-PRO" },
  { name: "Baja de comercio", code: "BAJ-COM" },
  { name: "Final de obra", code: "FIN-OBR" },
  { name: "Pedido de informe catastral", code: "INF-CAT" },
  { name: "Eximición de tasas", code: "EXI-TAS" },
  { name: "Uso de espacio público", code: "USO-ESP" },
  { name: "Nota general", code: "NOT-GEN" },
];

/** Form families: a name and the fields every version starts from. */
export const FORM_FAMILIES: readonly string[] = [
  "Solicitud de habilitación",
  "Solicitud de permiso de obra",
  "Formulario de reclamo",
  "Solicitud de poda",
  "Pedido de libre deuda",
  "Formulario de licencia",
  "Denuncia",
  "Solicitud de subsidio",
  "Alta de proveedor",
  "Nota de trámite general",
];

/** Field templates; a form version picks a subset and may rename keys (camelCase ↔ snake_case). */
export const FIELD_TEMPLATES: readonly {
  key: string;
  legacyKey: string;
  label: string;
  type: "text" | "textarea" | "number" | "date" | "select" | "multiselect" | "checkbox" | "file";
}[] = [
  { key: "razonSocial", legacyKey: "razon_social", label: "Razón social", type: "text" },
  { key: "rubro", legacyKey: "rubro_comercial", label: "Rubro", type: "select" },
  { key: "superficie", legacyKey: "superficie_m2", label: "Superficie (m²)", type: "number" },
  { key: "domicilio", legacyKey: "direccion", label: "Domicilio del trámite", type: "text" },
  { key: "descripcion", legacyKey: "detalle", label: "Descripción", type: "textarea" },
  { key: "fechaInicio", legacyKey: "fecha_inicio", label: "Fecha de inicio", type: "date" },
  { key: "servicios", legacyKey: "servicios_requeridos", label: "Servicios", type: "multiselect" },
  { key: "aceptaTerminos", legacyKey: "acepta", label: "Acepto los términos", type: "checkbox" },
  { key: "plano", legacyKey: "archivo_plano", label: "Plano del local", type: "file" },
  { key: "telefono", legacyKey: "tel", label: "Teléfono de contacto", type: "text" },
  {
    key: "cantidadEmpleados",
    legacyKey: "empleados",
    label: "Cantidad de empleados",
    type: "number",
  },
  { key: "nroPartida", legacyKey: "partida", label: "N° de partida", type: "text" },
  { key: "motivo", legacyKey: "motivo_solicitud", label: "Motivo", type: "select" },
  { key: "observaciones", legacyKey: "obs", label: "Observaciones", type: "textarea" },
  { key: "zona", legacyKey: "zona_urbana", label: "Zona", type: "select" },
];

/** Options for select/multiselect fields. */
export const OPTIONS: readonly { value: string; label: string }[] = [
  { value: "gastro", label: "Gastronomía" },
  { value: "comercio", label: "Comercio minorista" },
  { value: "servicios", label: "Servicios profesionales" },
  { value: "industria", label: "Industria liviana" },
  { value: "educacion", label: "Educación" },
  { value: "salud", label: "Salud" },
  { value: "centro", label: "Zona céntrica" },
  { value: "periferia", label: "Periferia" },
  { value: "rural", label: "Zona rural" },
  { value: "otro", label: "Otro (especificar)" },
];

/** Words for subjects, notes and free text. */
export const WORDS: readonly string[] = [
  "trámite",
  "expediente",
  "solicitud",
  "habilitación",
  "revisión",
  "inspección",
  "documentación",
  "pase",
  "dictamen",
  "notificación",
  "resolución",
  "conformidad",
  "observación",
  "año",
  "señal",
  "información",
  "técnica",
  "jurídica",
  "urgente",
  "pendiente",
  "vecino",
  "Córdoba",
  "número",
];

/** Removes accents and lower-cases (for usernames and e-mail addresses). */
export function asciiFold(text: string): string {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^A-Za-z0-9]/g, "")
    .toLowerCase();
}

/** Formats an integer with dots as thousands separators ("20.123.456"). */
export function withDots(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}
