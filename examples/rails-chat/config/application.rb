# Rails 6.1 from Debian's packages (ruby-rails), no Bundler, no gem downloads: only the
# frameworks the chat uses are loaded (no asset pipeline, no webpacker: plain JavaScript).
require "rails"
require "active_record/railtie"
require "action_controller/railtie"
require "action_view/railtie"

# the Ruby client of this repository (clients/ruby), used as the juggernaut gem
$LOAD_PATH.unshift File.expand_path("../../../clients/ruby/lib", __dir__)
require "juggernaut"

module RailsChat
  class Application < Rails::Application
    config.load_defaults 6.1
    config.eager_load = Rails.env.production?
    config.secret_key_base = ENV.fetch("SECRET_KEY_BASE") { "example-only-" + "0" * 64 }
    config.hosts.clear
    config.public_file_server.enabled = true
    config.logger = ActiveSupport::Logger.new($stdout)
    config.log_level = :info
    config.session_store :cookie_store, key: "_rails_chat"
    # how often offline users' chat sessions are closed (the seed's "rufus task", 5 min there)
    config.x.cleanup_every = Integer(ENV.fetch("CHAT_CLEANUP_SECONDS", "60"))
    config.x.cleanup_grace = Integer(ENV.fetch("CHAT_CLEANUP_GRACE", "60"))
  end
end
