import { outboxContract } from '../../contract/outbox.contract.ts';
import { backends, sqlStores } from '../../helpers/db.ts';

for (const backend of backends()) outboxContract(sqlStores(backend));
