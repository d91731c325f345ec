-- check: lml_people_document_numbers_have_digits
-- severity: warn
-- description: a person with a documentNumber has digits in it
select person_id, document_type, document_number_raw
from lml_people.main
where document_number_raw is not null and document_number is null
