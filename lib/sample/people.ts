/**
 * lml_people_mesa4core: 85% physical (DNI), 15% juridical (CUIT, businessName; 60% carry a
 * legalRepresentative, 5% of those dangling). Document numbers half with dots/dashes, half digits
 * only. `emails`: 0-3 entries, 60% of people as strings, 40% as {address, primary}; 6% repeat an
 * address with other case or spaces. 0-3 phones, 0-2 addresses. Forced: 10 juridical with a
 * dangling representative, 11 physical with a garbage birthDate, 12 physical with object
 * e-mails, 13 juridical with string e-mails.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes, missingId } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc, put } from "./common.ts";
import { drawTimestamp } from "./time.ts";
import {
  asciiFold,
  CITIES,
  COMPANY_FORMS,
  COMPANY_STEMS,
  FIRST_NAMES,
  LAST_NAMES,
  PROVINCES,
  STREETS,
  withDots,
} from "./vocabulary.ts";

const PHONE_WEIGHTS = { mobile: 60, home: 25, work: 15 };

const COLLECTION = "lml_people_mesa4core";

/** What processes and representatives need to know about person `index`. */
export interface PersonProfile {
  /** physical or juridical. */
  personType: "physical" | "juridical";
  /** Given name (physical). */
  firstName: string;
  /** Family name (physical). */
  lastName: string;
  /** Company name (juridical). */
  businessName: string;
  /** Digits only. */
  digits: string;
  /** Document number as stored (with or without separators). */
  documentNumber: string;
}

/** The profile of person `index`, or of missing person `index` when `missing`. */
export function personProfile(plan: Plan, index: number, missing = false): PersonProfile {
  const rng = Rng.for(plan.seed, missing ? "missing-person" : "person-profile", index);
  const forced = missing
    ? undefined
    : index === 10 || index === 13
    ? "juridical"
    : index === 11 || index === 12
    ? "physical"
    : undefined;
  const personType = forced ?? (rng.chance(0.15) ? "juridical" : "physical");
  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const businessName = `${rng.pick(COMPANY_STEMS)} ${lastName} ${rng.pick(COMPANY_FORMS)}`.trim();
  const dotted = rng.chance(0.5);
  if (personType === "physical") {
    const dni = rng.int(5_000_000, 49_999_999);
    return {
      personType,
      firstName,
      lastName,
      businessName,
      digits: String(dni),
      documentNumber: dotted ? withDots(dni) : String(dni),
    };
  }
  const body = String(rng.int(10_000_000, 99_999_999));
  const prefix = rng.pick(["30", "33", "20", "27"]);
  const check = String(rng.int(0, 9));
  return {
    personType,
    firstName,
    lastName,
    businessName,
    digits: `${prefix}${body}${check}`,
    documentNumber: dotted ? `${prefix}-${body}-${check}` : `${prefix}${body}${check}`,
  };
}

/** Display name: "First Last" or the business name. */
export function fullName(profile: PersonProfile): string {
  return profile.personType === "physical"
    ? `${profile.firstName} ${profile.lastName}`
    : profile.businessName;
}

function emailOf(profile: PersonProfile, rng: Rng): string {
  const domain = rng.pick([
    "gmail.com",
    "hotmail.com",
    "yahoo.com.ar",
    "outlook.com",
    "arnet.com.ar",
  ]);
  const local = profile.personType === "physical"
    ? `${asciiFold(profile.firstName)}.${asciiFold(profile.lastName)}${rng.int(1, 999)}`
    : `contacto${rng.int(1, 999)}`;
  return `${local}@${domain}`;
}

/** Document `index` of lml_people_mesa4core. */
export function buildPerson(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const profile = personProfile(plan, index);
  const doc: Doc = { _id: documentId(plan, COLLECTION, index), personType: profile.personType };
  if (profile.personType === "physical") {
    doc.firstName = profile.firstName;
    doc.lastName = profile.lastName;
    doc.documentType = "DNI";
    doc.documentNumber = profile.documentNumber;
    const birthMs = Date.UTC(rng.int(1940, 2004), rng.int(0, 11), rng.int(1, 28));
    put(
      doc,
      "birthDate",
      drawTimestamp(rng, birthMs, undefined, index === 11 ? "garbage_na" : undefined),
    );
  } else {
    doc.businessName = profile.businessName;
    doc.documentType = "CUIT";
    doc.documentNumber = profile.documentNumber;
    if (index === 10 || rng.chance(0.6)) {
      const dangling = index === 10 || rng.chance(0.05);
      const target = dangling
        ? rng.int(0, plan.missing - 1)
        : rng.int(0, plan.counts[COLLECTION] - 1);
      const representative = personProfile(plan, target, dangling);
      doc.legalRepresentative = {
        _id: dangling ? missingId(plan, target) : documentId(plan, COLLECTION, target),
        fullName: fullName(representative),
        documentNumber: representative.documentNumber,
      };
    }
  }
  const objects = index === 12 || (index !== 13 && rng.chance(0.4));
  const addresses = Array.from({ length: rng.skewed(0, 3) }, () => emailOf(profile, rng));
  if (addresses.length > 0 && rng.chance(0.06)) addresses.push(` ${addresses[0]!.toUpperCase()} `);
  doc.emails = objects ? addresses.map((address, i) => ({ address, primary: i === 0 })) : addresses;
  doc.phones = Array.from({ length: rng.skewed(0, 3) }, () => {
    const type = rng.weighted(PHONE_WEIGHTS);
    const number = type === "mobile"
      ? `+54 9 351 ${rng.int(400, 799)}-${String(rng.int(0, 9999)).padStart(4, "0")}`
      : `(0351) ${rng.int(400, 499)}-${String(rng.int(0, 9999)).padStart(4, "0")}`;
    return { type, number };
  });
  doc.addresses = Array.from({ length: rng.skewed(0, 2) }, (_, i) => {
    const city = rng.pick(CITIES);
    return {
      street: rng.pick(STREETS),
      number: String(rng.int(1, 9999)),
      city,
      province: city === "Córdoba" ? "Córdoba" : rng.pick(PROVINCES),
      postalCode: `X${rng.int(5000, 5999)}`,
      country: "AR",
      primary: i === 0,
    };
  });
  return appendAudit(plan, rng, COLLECTION, index, doc, times, { deletedRate: 0.03 });
}
