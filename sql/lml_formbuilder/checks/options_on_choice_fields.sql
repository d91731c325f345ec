-- check: lml_formbuilder_options_on_choice_fields
-- severity: warn
-- description: field options only belong to select and multiselect fields
select o.form_id, o.field_position, f.type, count(*) as options
from lml_formbuilder.field_options as o
join lml_formbuilder.fields as f on f.form_id = o.form_id and f.position = o.field_position
where f.type is distinct from 'select' and f.type is distinct from 'multiselect'
group by o.form_id, o.field_position, f.type
