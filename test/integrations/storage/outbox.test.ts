import { outboxContract } from '../../contract/outbox.contract.ts';
import { backends } from '../../helpers/db.ts';

for (const backend of backends()) outboxContract(backend);
