Rails.application.routes.draw do
  root "chats#index"
  get "/login" => "sessions#new"
  post "/login" => "sessions#create"
  post "/logout" => "sessions#destroy"
  get "/other" => "pages#other"
  get "/transcripts" => "transcripts#index"
  post "/chats/direct/:user_id" => "chats#direct"
  get "/chats/:id" => "chats#show"
  post "/chats/:id/messages" => "messages#create"
  post "/juggernaut/auth" => "juggernaut_auth#create"
end
