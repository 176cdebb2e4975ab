# A fresh machine gets the schema and the seeded users at the first boot.
Rails.application.config.after_initialize do
  conn = ActiveRecord::Base.connection
  unless conn.table_exists?(:users)
    load File.expand_path("../../db/schema.rb", __dir__)
    load File.expand_path("../../db/seeds.rb", __dir__)
  end
end
