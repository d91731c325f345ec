-- check: lml_people_person_type_known
-- severity: warn
-- description: every person type is physical or juridical (a new type is kept in its column: extend the list here once the application owners confirm it)
select person_id, person_type
from lml_people.main
where person_type is null or person_type not in ('physical', 'juridical')
