-- check: lml_formbuilder_field_keys_unique
-- severity: warn
-- description: a field key appears once per form (formData keys are not ambiguous)
select form_id, field_key, count(*) as fields
from lml_formbuilder.fields
where field_key is not null
group by form_id, field_key
having count(*) > 1
