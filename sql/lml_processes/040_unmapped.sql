-- lml_processes.unmapped_values: movements and attachments that are not an array, and their
-- elements that are not objects (the rows of 020 and 030 skip them). One pass over the documents
-- reading only these two keys.

insert into lml_processes.unmapped_values
select r._id, a.path, a.raw_value, a.reason
from lml_raw.lml_processes_mesa4core as r
cross join lateral jsonb_to_record(r.doc) as y(movements jsonb, attachments jsonb)
cross join lateral (
  select * from lml_util.unmapped_array('movements', y.movements)
  union all
  select * from lml_util.unmapped_array('attachments', y.attachments)
) as a;
