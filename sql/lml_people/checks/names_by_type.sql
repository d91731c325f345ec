-- check: lml_people_names_by_type
-- severity: warn
-- description: individuals have a last name and companies a business name
select person_id, person_type, first_name, last_name, business_name
from lml_people.main
where (person_type = 'physical' and last_name is null)
  or (person_type = 'juridical' and business_name is null)
