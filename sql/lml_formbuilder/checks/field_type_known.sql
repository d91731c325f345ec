-- check: lml_formbuilder_field_type_known
-- severity: warn
-- description: every form field type is text, textarea, number, date, select, multiselect, checkbox or file (a new type is kept in its column: extend the list here once the application owners confirm it)
select form_id, position, field_key, type
from lml_formbuilder.fields
where type is null
  or type not in ('text', 'textarea', 'number', 'date', 'select', 'multiselect', 'checkbox', 'file')
