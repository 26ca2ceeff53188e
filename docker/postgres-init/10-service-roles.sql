-- Runs once, when the postgres container initialises an empty data directory.
-- One login role and one database per service, neither a superuser: core_banking owns
-- the ledger, the gateway owns its transcripts, and neither can connect to the other's.
-- Development passwords; docker-compose.yml's URLs use the same ones.
CREATE ROLE core_banking LOGIN PASSWORD 'dev-core-banking-password';
CREATE DATABASE core_banking OWNER core_banking;
REVOKE ALL ON DATABASE core_banking FROM PUBLIC;

CREATE ROLE gateway LOGIN PASSWORD 'dev-gateway-password';
CREATE DATABASE gateway OWNER gateway;
REVOKE ALL ON DATABASE gateway FROM PUBLIC;
