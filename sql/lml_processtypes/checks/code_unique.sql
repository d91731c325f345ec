-- check: lml_processtypes_code_unique
-- severity: error
-- description: process type codes are unique among non-deleted types
select code, count(*) as types, array_agg(process_type_id order by process_type_id) as process_type_ids
from lml_processtypes.main
where code is not null and not is_deleted
group by code
having count(*) > 1
